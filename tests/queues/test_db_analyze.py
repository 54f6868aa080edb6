"""A backlog gets fresh planner statistics at once (PostgreSQL): the db
queue's claim and the sender's lease analyze their table when its rows
changed by more than a fiftieth since the last ANALYZE, instead of running a
whole backlog on plans made for an empty table (models/analyze.py)."""

import pytest
from django.db import connection

from retry_admin.models import MessageLog, QueueMessage, analyze
from retry_admin.queues.db import DatabaseQueue
from retry_admin.services.sender import sender_process_chunk

pytestmark = pytest.mark.django_db(transaction=True)  # ANALYZE runs outside transactions
on_postgres = pytest.mark.skipif("connection.vendor != 'postgresql'")


@pytest.fixture(autouse=True)
def _fresh_clock(monkeypatch):
    monkeypatch.setattr(analyze, "_next_look", {})
    monkeypatch.setattr(analyze, "MIN_CHANGES", 100)


def _analyzed_count(model) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = %s",
            [model._meta.db_table],
        )
        return cursor.fetchone()[0]


def _send(queue: DatabaseQueue, count: int) -> None:
    queue.send([f'{{"n":{i}}}' for i in range(count)])


@pytest.mark.parametrize(
    ("changed", "counted", "never", "stale"),
    [
        (99, -1, True, False),  # too few changes to matter
        (500, -1, True, True),  # never analyzed
        (500, 0, False, True),  # analyzed while empty
        (150, 10_000, False, False),  # 1.5% changed
        (200, 10_000, False, True),  # 2% changed
    ],
)
def test_stale_is_a_fiftieth_changed_with_a_floor(changed, counted, never, stale):
    assert analyze.is_stale(changed, counted, never, min_changes=100) is stale


@on_postgres
def test_a_full_claim_analyzes_a_queue_table_whose_statistics_are_stale():
    queue = DatabaseQueue(queue_name="analyze-test")
    _send(queue, 300)
    before = _analyzed_count(QueueMessage)
    assert len(queue.receive(100, visibility_timeout=30)) == 100
    assert _analyzed_count(QueueMessage) == before + 1
    # Fresh now: the next full claims do not analyze again.
    _send(queue, 50)
    queue.receive(100, visibility_timeout=30)
    assert _analyzed_count(QueueMessage) == before + 1


@on_postgres
def test_a_claim_short_of_a_chunk_does_not_look():
    queue = DatabaseQueue(queue_name="analyze-test")
    _send(queue, 300)
    before = _analyzed_count(QueueMessage)
    assert len(queue.receive(1000, visibility_timeout=30)) == 300
    assert _analyzed_count(QueueMessage) == before


@on_postgres
def test_the_sender_analyzes_the_logs_when_a_backlog_arrives(settings, make_batch):
    settings.QUEUE_BACKEND = "db"
    settings.SENDER_BATCH_SIZE = 50
    make_batch(300)
    before = _analyzed_count(MessageLog)
    report = sender_process_chunk()
    assert report.sent == 50
    assert _analyzed_count(MessageLog) == before + 1


def test_it_does_nothing_inside_a_transaction_or_off_postgresql():
    from django.db import transaction

    with transaction.atomic():
        assert analyze.analyze_if_stale(QueueMessage) is False
    if connection.vendor != "postgresql":
        assert analyze.analyze_if_stale(QueueMessage) is False


def _claim_plan(queue: DatabaseQueue, limit: int) -> str:
    """The plan of the claim's inner select (what picks the rows)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"EXPLAIN SELECT id FROM {QueueMessage._meta.db_table}"
            " WHERE queue = %s AND dead = %s AND visible_at <= now()"
            " ORDER BY priority DESC, visible_at, id LIMIT %s FOR UPDATE SKIP LOCKED",
            [queue.queue_name, False, limit],
        )
        return "\n".join(row[0] for row in cursor.fetchall())


@on_postgres
def test_after_a_full_claim_the_next_claims_read_the_claim_index_in_order():
    queue = DatabaseQueue(queue_name="analyze-plan")
    _send(queue, 20_000)  # a plan made without statistics sorts them all
    queue.receive(100, visibility_timeout=30)
    plan = _claim_plan(queue, 100)
    assert "Index Scan using queue_claim" in plan, plan
    assert "Sort" not in plan, plan


@on_postgres
def test_a_full_claim_inside_a_transaction_analyzes_once_it_commits():
    from django.db import transaction

    queue = DatabaseQueue(queue_name="analyze-test")
    _send(queue, 300)
    before = _analyzed_count(QueueMessage)
    with transaction.atomic():  # as the sender claims and leases
        assert len(queue.receive(100, visibility_timeout=30)) == 100
        assert _analyzed_count(QueueMessage) == before
    assert _analyzed_count(QueueMessage) == before + 1
