"""The db queue's reads for the console seek on the claim index's
(queue, dead) prefix instead of walking every row of the queue: a million
delivered messages leave the table small, but a backlog or a big DLQ does
not (bench/http_load.py times /dlq/ and the overview over such a table)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retry_admin.queues.db import DatabaseQueue

pytestmark = pytest.mark.django_db


def _plans(call) -> list[str]:
    """The plan of every query ``call`` runs."""
    with CaptureQueriesContext(connection) as captured:
        call()
    plans = []
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            if not query["sql"].lstrip().upper().startswith("SELECT"):
                continue
            if connection.vendor == "sqlite":
                cursor.execute(f"EXPLAIN QUERY PLAN {query['sql']}")
                plans.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
            else:
                cursor.execute("SET enable_seqscan = off")
                cursor.execute(f"EXPLAIN {query['sql']}")
                plans.append(" ".join(row[0] for row in cursor.fetchall()))
                cursor.execute("RESET enable_seqscan")
    assert plans, "no query ran"
    return plans


def _seeks_queue_and_dead(plan: str) -> bool:
    if connection.vendor == "sqlite":
        return "queue_claim (queue=? AND dead=?" in plan
    return "queue_claim" in plan and "dead" in plan


@pytest.mark.parametrize("read", ["dlq_depth", "depth"])
def test_console_reads_seek_on_queue_and_dead(read):
    backend = DatabaseQueue(queue_name="plans")
    for plan in _plans(getattr(backend, read)):
        assert _seeks_queue_and_dead(plan), plan
