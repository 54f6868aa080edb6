"""The db queue's table does not bloat on PostgreSQL: every row leaves two
dead tuples (claim, ack), which the process that acked them vacuums away when
a receive finds the queue drained, and autovacuum visits the table after a
fixed number of dead tuples (migration 0011) however big it grows."""

import pytest
from django.db import connection

from retry_admin.models import QueueMessage
from retry_admin.queues import db as db_queue
from retry_admin.queues.db import DatabaseQueue

pytestmark = [
    pytest.mark.django_db(transaction=True),  # VACUUM cannot run in a transaction
    pytest.mark.skipif("connection.vendor != 'postgresql'"),
]
TABLE = QueueMessage._meta.db_table


def _stats() -> tuple[int, object]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute(
            "SELECT n_dead_tup, last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [TABLE]
        )
        return cursor.fetchone()


def _drain(queue: DatabaseQueue, count: int) -> None:
    queue.send([f'{{"n":{i}}}' for i in range(count)])
    while received := queue.receive(40, visibility_timeout=30):
        queue.ack([m.handle for m in received])


def test_a_drain_leaves_no_dead_tuples_in_the_queue_table(monkeypatch):
    monkeypatch.setattr(db_queue, "VACUUM_AFTER_ACKS", 100)
    queue = DatabaseQueue(queue_name="vacuum-test")
    _drain(queue, 300)
    dead, last_vacuum = _stats()
    assert last_vacuum is not None
    assert dead == 0


def test_it_does_not_vacuum_before_enough_acks(monkeypatch):
    monkeypatch.setattr(db_queue, "VACUUM_AFTER_ACKS", 10_000)
    queue = DatabaseQueue(queue_name="vacuum-test")
    _, vacuumed_before = _stats()
    _drain(queue, 50)
    dead, last_vacuum = _stats()
    assert last_vacuum == vacuumed_before
    assert dead > 0


def test_the_queue_table_has_its_own_autovacuum_settings():
    with connection.cursor() as cursor:
        cursor.execute("SELECT reloptions FROM pg_class WHERE relname = %s", [TABLE])
        (options,) = cursor.fetchone()
    assert "autovacuum_vacuum_scale_factor=0" in options
    assert "autovacuum_vacuum_threshold=10000" in options


def test_a_receive_inside_a_transaction_that_finds_the_queue_drained_vacuums_once_it_commits(
    monkeypatch,
):
    from django.db import transaction

    monkeypatch.setattr(db_queue, "VACUUM_AFTER_ACKS", 100)
    queue = DatabaseQueue(queue_name="vacuum-test")
    queue.send([f'{{"n":{i}}}' for i in range(300)])
    while True:
        with transaction.atomic():  # as the sender claims and leases
            received = queue.receive(40, visibility_timeout=30)
        if not received:
            break
        queue.ack([m.handle for m in received])
    dead, last_vacuum = _stats()
    assert last_vacuum is not None
    assert dead == 0
