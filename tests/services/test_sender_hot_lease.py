"""On PostgreSQL a chunk's lease is a HOT update: it sets no indexed column
(lease_token, lease_expires_at), and the message log's pages keep room for the
new row versions (fillfactor, migration 0015), so leasing writes the rows'
new versions beside the old ones and no index entry."""

from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from retry_admin.models import MessageLog
from retry_admin.queues import get_backend
from retry_admin.services.sender_intake import chunk_sort

pytestmark = [
    pytest.mark.django_db(transaction=True),  # pages pruned by commits, as in production
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]


def _updates() -> tuple[int, int]:
    """The message log's updates and HOT updates so far (this process's,
    flushed to the statistics first)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = %s",
            [MessageLog._meta.db_table],
        )
        return cursor.fetchone()


def test_it_leases_a_chunk_without_writing_an_index_entry(make_batch):
    make_batch(400)
    received = get_backend().receive(400, visibility_timeout=60)
    before = _updates()
    intake = chunk_sort(received, lease_until=timezone.now() + timedelta(seconds=60))
    assert len(intake.deliveries) == 400
    updated, hot = (after - then for after, then in zip(_updates(), before, strict=True))
    assert updated == 400
    assert hot >= 0.9 * updated
