"""The sender writes a delivery attempt row per message, so the attempts
table keeps only the index its reads need: (message, number). Every read of
attempts is by message (the timeline, a DLQ entry's first error, retention's
deletes) and walks that index."""

import pytest
from django.db import connection
from django.db.models import Min

from retry_admin.models import DeliveryAttempt

pytestmark = pytest.mark.django_db

TABLE = DeliveryAttempt._meta.db_table


def _indexes() -> set[str]:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, TABLE)
    return {
        name
        for name, info in constraints.items()
        if info["index"] and not info["primary_key"] and not info["unique"]
    }


def test_attempts_have_one_index_besides_their_key():
    assert _indexes() == {"attempt_message_number"}


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="an SQLite plan")
@pytest.mark.parametrize(
    "query",
    [
        lambda ids: DeliveryAttempt.objects.filter(message_id__in=ids).order_by(
            "message", "number"
        ),
        lambda ids: (
            DeliveryAttempt.objects.filter(message_id__in=ids)
            .exclude(outcome="sent")
            .values("message_id")
            .annotate(first=Min("number"))
        ),
        lambda ids: DeliveryAttempt.objects.filter(message_id__in=ids, number__in=[1, 2]),
    ],
    ids=["timeline", "first errors", "recorded check"],
)
def test_reads_by_message_seek_the_message_number_index(query):
    plan = query(["0190a6c27b3e7c4d8e5f112233445566", "0190a6c27b3e7c4d8e5f112233445577"]).explain()

    assert "attempt_message_number (message_id=?" in plan, plan
