import time
import uuid

import pytest
from django.utils import timezone

from retry_admin.models import (
    Batch,
    MessageLog,
    Status,
    Template,
    insert_rows,
    new_message_id,
    new_message_ids,
)


def test_message_ids_are_uuid7_and_ordered_by_creation_time():
    first = new_message_id()
    time.sleep(0.002)
    batch = new_message_ids(1000)
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in [first, *batch])
    assert all(first < i for i in batch)
    assert len(set(batch)) == 1000
    assert abs(int(first.hex[:12], 16) - time.time() * 1000) < 5_000  # the ms timestamp


def test_ids_made_together_are_monotonic():
    ids = new_message_ids(5000)
    assert ids == sorted(ids)


@pytest.mark.django_db
def test_insert_rows_stores_what_bulk_create_stores(template):
    """insert_rows is bulk_create's fast path: the rows must be the same."""
    batch = Batch.objects.create(name="B", template=template, channel="log")
    now = timezone.now()
    values = [
        (new_message_id(), "ada@example.com", {"name": "Ada", "n": 1}),
        (new_message_id(), "<script>é</script>", {}),
    ]
    insert_rows(
        MessageLog,
        ["id", "recipient", "context"],
        values,
        batch_id=batch.pk,
        created_at=now,
        updated_at=now,
        status=Status.FAILED,
    )
    fast = list(MessageLog.objects.order_by("id").values())
    MessageLog.objects.all().delete()
    MessageLog.objects.bulk_create(
        MessageLog(
            id=pk,
            recipient=r,
            context=c,
            batch=batch,
            created_at=now,
            updated_at=now,
            status=Status.FAILED,
        )
        for pk, r, c in values
    )
    assert list(MessageLog.objects.order_by("id").values()) == fast
    by_recipient = {row["recipient"]: row for row in fast}
    assert by_recipient["ada@example.com"]["context"] == {"name": "Ada", "n": 1}
    assert by_recipient["<script>é</script>"]["status"] == Status.FAILED


@pytest.mark.django_db
def test_insert_rows_refuses_an_auto_now_field_left_unset():
    with pytest.raises(TypeError, match="pre_save"):
        insert_rows(Template, ["name", "body"], [("T", "Hi")])
