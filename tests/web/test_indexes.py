"""Every filter of the messages page walks an index in id order and stops
after one page (no sort of the matches), on SQLite and PostgreSQL; the
aggregates of the overview and failures pages read only an index.

(bench/http_load.py times the pages over a million rows.)"""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

import pytest
from django.db import connection
from django.db.models import Count, Max, Min
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from retry_admin.filters import MessageFilter
from retry_admin.models import MessageLog

pytestmark = pytest.mark.django_db

SIGNATURE = "Upstream gateway timeout after <n> ms"
PAGE_QUERIES = {
    # filter -> the index that must serve it
    "none": (MessageFilter(), "pk"),
    "status": (MessageFilter(status="failed"), "msg_status_id"),
    "batch": (MessageFilter(batch=3), "msg_batch_id"),
    "error": (MessageFilter(error=SIGNATURE), "msg_signature_id"),
    "status+error": (
        MessageFilter(status="permanently_failed", error=SIGNATURE),
        ("msg_status_signature", "msg_signature_id"),  # either walks in id order
    ),
    "dates": (MessageFilter(created_from=date(2026, 1, 1), created_to=date(2026, 2, 1)), "pk"),
    "status+dates": (
        MessageFilter(status="failed", created_from=date(2026, 1, 1)),
        "msg_status_id",
    ),
    "batch+dates": (MessageFilter(batch=3, created_to=date(2026, 2, 1)), "msg_batch_id"),
}


def _page_plan(filters: MessageFilter) -> str:
    return filters.apply(MessageLog.objects.all()).order_by("-id")[:51].explain()


def _pk_index() -> str:
    return (
        "sqlite_autoindex_retry_admin_messagelog_1"
        if connection.vendor == "sqlite"
        else ("retry_admin_messagelog_pkey")
    )


@contextmanager
def _planner_off(setting: str) -> Iterator[None]:
    """Turn a PostgreSQL planner method off for the block (SQLite has none)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(f"SET {setting} = off")
    yield
    with connection.cursor() as cursor:
        cursor.execute(f"RESET {setting}")


@pytest.fixture
def planner_without_seqscan():
    """PostgreSQL prefers a sequential scan of a near-empty test table; turn
    that off so the plan shows what it does on a big one."""
    with _planner_off("enable_seqscan"):
        yield


@pytest.fixture
def planner_without_sort(planner_without_seqscan):
    """On a near-empty table PostgreSQL may also take any index and sort the
    few rows (which one depends on the statistics earlier tests left); a
    page over a big table must not sort, so turn sorting off too."""
    with _planner_off("enable_sort"):
        yield


@pytest.mark.parametrize("case", sorted(PAGE_QUERIES))
def test_each_messages_filter_walks_an_index_in_page_order(case, planner_without_sort):
    filters, index = PAGE_QUERIES[case]
    indexes = (index,) if isinstance(index, str) else index
    indexes = tuple(_pk_index() if i == "pk" else i for i in indexes)

    plan = _page_plan(filters)

    assert any(i in plan for i in indexes), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_a_recipient_prefix_is_a_range_on_the_recipient_index(planner_without_seqscan):
    plan = _page_plan(MessageFilter(recipient="+44770090"))

    assert "msg_recipient" in plan, plan  # the page caps the matches it sorts


only_sqlite = pytest.mark.skipif(
    "connection.vendor != 'sqlite'",
    reason="PostgreSQL picks index-only scans from table statistics, not on an empty "
    "test table: bench/http_load.py measures these at a million rows",
)


@only_sqlite
def test_status_counts_read_only_indexes(planner_without_seqscan):
    from retry_admin.selectors.figures import status_counts

    with CaptureQueriesContext(connection) as queries:
        status_counts()
    (sql,) = [q["sql"] for q in queries]
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        scans = [row[-1] for row in cursor.fetchall() if "messagelog" in row[-1]]

    assert scans == [
        "SCAN retry_admin_messagelog USING COVERING INDEX msg_status_id",
        "SCAN retry_admin_messagelog USING COVERING INDEX msg_retried_status",
    ]


@only_sqlite
def test_failure_groups_read_only_an_index(planner_without_seqscan):
    qs = (
        MessageLog.objects.signed()
        .filter(status="permanently_failed")
        .values("error_signature")
        .annotate(count=Count("*"), first=Min("updated_at"), last=Max("updated_at"))
    )

    plan = qs.explain()

    assert "msg_status_signature" in plan, plan
    assert "COVERING INDEX" in plan or "Index Only Scan" in plan, plan


def test_the_retry_selection_reads_the_failed_logs_index(planner_without_seqscan):
    # The design's index on (status, retry_count, updated_at), of failed logs only.
    plan = MessageLog.objects.eligible_for_retry(timezone.now()).order_by().explain()

    assert re.search(r"\bmsg_status_retry\b", plan), plan


@only_sqlite
def test_batch_progress_reads_only_an_index(planner_without_seqscan):
    qs = (
        MessageLog.objects.filter(batch_id__in=[1, 2])
        .values("batch_id", "status")
        .annotate(n=Count("*"))
    )

    plan = qs.explain()

    assert "COVERING INDEX" in plan or "Index Only Scan" in plan, plan


# sqlite_stat1 of the pages bench's million logs (bench/pages.py), index by index.
MILLION_LOGS_STATISTICS = {
    "msg_signature_id": "110395 15771 1",
    "msg_status_signature": "110395 36799 15771 1 1",
    "msg_retried_status": "172783 43196 43196",
    "msg_status_retry": "60078 60078 20026 1",
    "msg_recipient": "1100000 1 1",
    "msg_updated_id": "1100000 2 1",
    "msg_batch_id": "1100000 5473 1",
    "msg_status_id": "1100000 220000 1",
    "msg_batch_status": "1100000 5473 1099",
}


@pytest.fixture
def million_logs_statistics():
    """SQLite planning as it does with a million logs analyzed."""
    table = MessageLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{table}"')
        cursor.execute("DELETE FROM sqlite_stat1 WHERE tbl = %s", [table])
        for index, stat in MILLION_LOGS_STATISTICS.items():
            cursor.execute("INSERT INTO sqlite_stat1 VALUES (%s, %s, %s)", [table, index, stat])
        cursor.execute("ANALYZE sqlite_schema")  # load them
    yield
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM sqlite_stat1")
        cursor.execute("ANALYZE sqlite_schema")


@only_sqlite
def test_with_statistics_the_failed_list_still_walks_the_status_index(million_logs_statistics):
    plan = _page_plan(MessageFilter(status="failed"))

    assert "msg_status_id" in plan and "TEMP B-TREE" not in plan, plan


@only_sqlite
def test_with_statistics_the_retry_rules_read_the_failed_logs_index(million_logs_statistics):
    from retry_admin import policy

    for q in (policy.eligible_q(timezone.now()), policy.exhausted_q()):
        plan = MessageLog.objects.filter(q).order_by().explain()

        assert re.search(r"\bmsg_status_retry\b", plan), plan
