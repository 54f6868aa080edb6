"""A database error in the middle of a batch (on PostgreSQL raised by a later
statement: the writer does not wait for each chunk's inserts) still refuses
the whole batch: it propagates and nothing is written."""

import pytest
from django.db import DatabaseError

from retry_admin.models import Batch, MessageLog, QueueMessage
from retry_admin.services import batch_writer
from retry_admin.services.batches import batch_create
from tests.conftest import make_rows

# Without a test transaction around it: batch_create's own is the outermost, as in a request.
pytestmark = pytest.mark.django_db(transaction=True)


def test_an_insert_failing_mid_batch_writes_nothing(template, monkeypatch):
    monkeypatch.setattr(batch_writer, "CHUNK_ROWS", 10)
    real = batch_writer.insert_rows
    first_ids: list[str] = []

    def failing_second_chunk(model, fields, rows, **shared):
        rows = list(rows)
        if not first_ids:
            first_ids.append(rows[0][0])
        else:  # the first chunk's id again: the primary key refuses the row
            rows[0] = (first_ids[0], *rows[0][1:])
        return real(model, fields, rows, **shared)

    monkeypatch.setattr(batch_writer, "insert_rows", failing_second_chunk)

    with pytest.raises(DatabaseError):
        batch_create(name="Broken", template=template, recipients=make_rows(35))

    assert Batch.objects.count() == MessageLog.objects.count() == QueueMessage.objects.count() == 0


def test_after_it_the_connection_writes_the_next_batch(template, monkeypatch):
    test_an_insert_failing_mid_batch_writes_nothing(template, monkeypatch)
    monkeypatch.undo()

    batch = batch_create(name="Next", template=template, recipients=make_rows(35)).batch

    assert MessageLog.objects.filter(batch=batch).count() == QueueMessage.objects.count() == 35
