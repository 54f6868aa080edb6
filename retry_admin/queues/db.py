"""The embedded queue: a table in the application's own database.

Claims are one statement, ``UPDATE … WHERE id IN (SELECT … LIMIT n) RETURNING``,
so two workers never receive the same message while it is invisible. On
PostgreSQL the inner select takes ``FOR UPDATE SKIP LOCKED`` so concurrent
workers claim disjoint rows without waiting on each other; SQLite runs one
writer at a time, which makes the same statement atomic there.

Sends write through the caller's transaction (``transactional``): a status
change and the enqueue that goes with it commit together or not at all.

Every row leaves two dead tuples on PostgreSQL (the claim's update, the ack's
delete). Besides the table's own autovacuum settings (migration 0011), a
process that has acked ``VACUUM_AFTER_ACKS`` rows vacuums the table when a
receive finds it empty, so a drain leaves no bloat behind (``VACUUM
(SKIP_LOCKED)``: a second process never waits for the first one's).

A claim that comes back full (a backlog) makes sure the table's planner
statistics are fresh (``models/analyze.py``): statistics taken while the
table was empty turn the claim into a bitmap scan and a sort of every
visible row, chunk after chunk.
"""

import logging
import secrets
from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from retry_admin.models import QueueMessage, insert_rows
from retry_admin.models.analyze import analyze_if_stale
from retry_admin.models.rawsql import in_list
from retry_admin.queues.base import (
    DeadLetter,
    MoveResult,
    QueueBackend,
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
)
from retry_admin.queues.wake import notify_enqueued

logger = logging.getLogger(__name__)

_TABLE = QueueMessage._meta.db_table
VACUUM_AFTER_ACKS = 10_000


def _split(handles: Sequence[str]) -> dict[str, list[int]]:
    """Group ``"<id>:<receipt>"`` handles by receipt."""
    by_receipt: dict[str, list[int]] = defaultdict(list)
    for handle in handles:
        try:
            pk, receipt = handle.split(":", 1)
            by_receipt[receipt].append(int(pk))
        except ValueError:
            raise QueueError(f"Not a receipt handle of the db queue: {handle!r}") from None
    return by_receipt


def _pks(ids) -> list[int]:
    """DLQ entry ids as primary keys; anything else ("²", 10**30) names no entry."""
    return [int(i) for i in map(str, ids) if i.isascii() and i.isdigit() and len(i) < 19]


def _analyze_queue_table() -> None:
    analyze_if_stale(QueueMessage)


class DatabaseQueue(QueueBackend):
    name = "db"
    max_send_batch = 1000
    max_receive = 1000
    max_body_bytes = 256 * 1024
    transactional = True

    def __init__(self, *, queue_name: str) -> None:
        self.queue_name = queue_name
        self._acked_since_vacuum = 0

    def describe(self) -> str:
        return f"db queue {self.queue_name!r} ({connection.vendor})"

    # ``dead__in``, not ``dead=``: Django writes ``dead=True`` as a bare
    # ``WHERE "dead"`` on SQLite, which no index can seek on; ``IN (1)`` seeks
    # the claim index's (queue, dead) prefix (tests/queues/test_db_plans.py).
    def _live(self):
        return QueueMessage.objects.filter(queue=self.queue_name, dead__in=[False])

    def _dead(self):
        return QueueMessage.objects.filter(queue=self.queue_name, dead__in=[True])

    # Main queue

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        now = timezone.now()
        visible_at = now + timedelta(seconds=delay_seconds)
        results: list[SendResult] = []
        rows = []
        limit, sent = self.max_body_bytes, SendResult(True)
        for body in bodies:
            # A character is at most 4 bytes: most bodies need no encoding to tell.
            if len(body) * 4 > limit and len(body.encode()) > limit:
                results.append(SendResult(False, f"body exceeds {limit} bytes"))
                continue
            rows.append((body,))
            results.append(sent)
        insert_rows(
            QueueMessage,
            ["body"],
            rows,
            queue=self.queue_name,
            visible_at=visible_at,
            priority=priority,
            created_at=now,
        )
        if rows:
            notify_enqueued(self.queue_name)  # wakes idle senders at commit (PostgreSQL)
        return results

    def receive(self, max_messages: int, *, visibility_timeout: int) -> list[ReceivedMessage]:
        now = timezone.now()
        receipt = secrets.token_hex(8)
        lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
        adapt = connection.ops.adapt_datetimefield_value
        sql = (
            f"UPDATE {_TABLE} SET receive_count = receive_count + 1, visible_at = %s, receipt = %s"
            f" WHERE id IN (SELECT id FROM {_TABLE}"
            f" WHERE queue = %s AND dead = %s AND visible_at <= %s"
            f" ORDER BY priority DESC, visible_at, id LIMIT %s{lock})"
            f" RETURNING id, body, receive_count"
        )
        params = [
            adapt(now + timedelta(seconds=visibility_timeout)),
            receipt,
            self.queue_name,
            False,
            adapt(now),
            min(max_messages, self.max_receive),
        ]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        # Neither runs inside a transaction: once the caller's commits (the
        # sender claims and leases in one), at once without one.
        if not rows and self._acked_since_vacuum >= VACUUM_AFTER_ACKS:
            transaction.on_commit(self._vacuum)
        elif len(rows) == params[-1]:
            # A backlog: the next claims plan on fresh statistics.
            transaction.on_commit(_analyze_queue_table)
        rows.sort()  # by id: ids are unique, so the rest of a row is never compared
        return [ReceivedMessage(f"{pk}:{receipt}", body, count) for pk, body, count in rows]

    def _vacuum(self) -> None:
        """Clear the dead tuples of the rows this process acked (PostgreSQL;
        VACUUM cannot run inside a transaction, so never from one)."""
        if connection.vendor != "postgresql" or connection.in_atomic_block:
            return
        self._acked_since_vacuum = 0
        try:
            with connection.cursor() as cursor:
                if connection.pg_version >= 150000:
                    # Hand this process's pending table statistics over first,
                    # or they would count its dead tuples again after the vacuum.
                    cursor.execute("SELECT pg_stat_force_next_flush()")
                cursor.execute(f"VACUUM (SKIP_LOCKED) {_TABLE}")
        except DatabaseError:  # not the table's owner, say: autovacuum still runs
            logger.warning("Could not vacuum %s; autovacuum will", _TABLE, exc_info=True)

    def ack(self, handles: Sequence[str]) -> None:
        with connection.cursor() as cursor:
            for receipt, ids in _split(handles).items():
                where, params = in_list("id", ids)
                cursor.execute(
                    f"DELETE FROM {_TABLE} WHERE receipt = %s AND {where}", [receipt, *params]
                )
                self._acked_since_vacuum += cursor.rowcount

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        visible_at = timezone.now() + timedelta(seconds=delay_seconds)
        for receipt, ids in _split(handles).items():
            QueueMessage.objects.filter(id__in=ids, receipt=receipt).update(
                visible_at=visible_at, receipt=None
            )

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        visible_at = timezone.now() + timedelta(seconds=visibility_timeout)
        held: dict[str, str] = {}
        for receipt, ids in _split(handles).items():
            rows = QueueMessage.objects.filter(id__in=ids, receipt=receipt, dead=False)
            kept = list(rows.values_list("id", flat=True))
            rows.filter(id__in=kept).update(visible_at=visible_at)
            held.update((f"{pk}:{receipt}", f"{pk}:{receipt}") for pk in kept)
        return held

    def dead_letter(self, handles: Sequence[str], *, reason: str) -> None:
        now = timezone.now()
        for receipt, ids in _split(handles).items():
            QueueMessage.objects.filter(id__in=ids, receipt=receipt).update(
                dead=True, dead_at=now, dead_reason=reason, receipt=None, visible_at=now
            )

    def depth(self) -> QueueDepth:
        now = timezone.now()
        counts = self._live().aggregate(
            visible=Count("id", filter=Q(visible_at__lte=now)),
            in_flight=Count("id", filter=Q(visible_at__gt=now, receipt__isnull=False)),
            delayed=Count("id", filter=Q(visible_at__gt=now, receipt__isnull=True)),
        )
        return QueueDepth(**counts)

    # Dead-letter queue

    def dlq_depth(self) -> int:
        return self._dead().count()

    def dlq_peek(self, *, limit: int = 100, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        qs = self._dead().order_by("id")
        if ids is not None:
            qs = qs.filter(id__in=_pks(ids))
        return [
            DeadLetter(str(m.id), m.body, m.receive_count, m.dead_at, m.dead_reason)
            for m in qs[:limit]
        ]

    def dlq_move(self, ids: Sequence[str]) -> MoveResult:
        wanted = {str(i) for i in ids}
        numeric = _pks(wanted)
        with transaction.atomic():
            claimed = self._dead().filter(id__in=numeric).select_for_update()
            moved_ids = {str(pk) for pk in claimed.values_list("id", flat=True)}
            QueueMessage.objects.filter(id__in=[int(i) for i in moved_ids]).update(
                dead=False,
                receive_count=0,
                visible_at=timezone.now(),
                receipt=None,
                dead_at=None,
                dead_reason="",
            )
        result = MoveResult(moved=sorted(moved_ids, key=int))
        for missing in wanted - moved_ids:
            result.failed[missing] = "not in the dead-letter queue"
        return result

    def dlq_purge(self, ids: Sequence[str] | None = None) -> int:
        qs = self._dead()
        if ids is not None:
            qs = qs.filter(id__in=_pks(ids))
        deleted, _ = qs.delete()
        return deleted

    def ensure(self) -> None:
        """The table is created by migrations; nothing else to make."""
