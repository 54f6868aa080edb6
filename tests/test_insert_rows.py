"""insert_rows takes rows that need no preparation (hex ids, text, dicts) as
they are, and prepares a chunk with anything else in it value by value: both
must store what bulk_create stores."""

import pytest
from django.utils import timezone

from retry_admin.models import Batch, MessageLog, insert_rows, new_message_id


def _stored():
    return list(MessageLog.objects.order_by("id").values())


def _bulk_created(batch, values, now):
    MessageLog.objects.bulk_create(
        MessageLog(id=pk, recipient=r, context=c, batch=batch, created_at=now, updated_at=now)
        for pk, r, c in values
    )
    return _stored()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "values",
    [
        pytest.param(
            [
                (new_message_id().hex, "ada@example.com", {"name": "Ada", "n": 1}),
                (new_message_id().hex, "<b>é</b>", {}),
            ],
            id="ready",
        ),
        pytest.param(
            [
                (new_message_id(), "ada@example.com", {"name": "Ada"}),  # a UUID object
                (new_message_id().hex, "bob@example.com", ["a list"]),  # JSON, not a dict
                (str(new_message_id()), "cy@example.com", {}),  # dashed id
            ],
            id="mixed",
        ),
    ],
)
def test_it_stores_what_bulk_create_stores(template, values):
    batch = Batch.objects.create(name="B", template=template, channel="log")
    now = timezone.now()
    insert_rows(
        MessageLog,
        ["id", "recipient", "context"],
        values,
        batch_id=batch.pk,
        created_at=now,
        updated_at=now,
    )
    fast = _stored()
    MessageLog.objects.all().delete()
    assert _bulk_created(batch, values, now) == fast
    assert len(fast) == len(values)


@pytest.mark.django_db
def test_it_refuses_rows_of_the_wrong_width(template):
    with pytest.raises(ValueError, match="every row must have 3 values"):
        insert_rows(MessageLog, ["id", "recipient", "context"], [(new_message_id().hex, "a@b.c")])
