"""Reads for pages, API and commands: counts, rates, depth, series."""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import CharField, Count, Max, Min, Q
from django.db.models.functions import Cast
from django.utils import timezone

from retry_admin.envelope import InvalidEnvelope, decode
from retry_admin.filters import MessageFilter
from retry_admin.models import (
    DeliveryAttempt,
    HourlyCount,
    MessageLog,
    RetryRun,
    Source,
    Status,
)
from retry_admin.queues import get_backend
from retry_admin.schedules import RETRY_CYCLE, next_run

DURATION_SAMPLE = 10_000


# The retry figures, defined once: the overview shows these words on hover,
# the API returns them, and a message's page counts its retries the same way.
RETRY_FIGURES = {
    "retried": (
        "A message is retried when it is sent again after its first send: by the scheduled "
        "retry cycle, a one-click or bulk retry, or a DLQ replay."
    ),
    "recovered": (
        "Messages sent now whose successful attempt was a retry (retry cycle, one-click, "
        "bulk or DLQ replay)."
    ),
    "retry_success_rate": (
        "Of the retried messages that have finished (sent or permanently failed), "
        "the share that was sent."
    ),
    "permanently_failed": (
        "Messages that will not be sent on their own: a permanent error, out of retries, "
        "purged from the DLQ, or their batch or template deleted. Counted now."
    ),
}


def status_counts() -> dict:
    """Counts by status now, plus the retry figures (``RETRY_FIGURES``) that
    come from the same scan."""
    rows = MessageLog.objects.values("status").annotate(
        # Counting indexed columns, not id: the (status, …, enqueue_source)
        # index covers the query, where counting id would read every row.
        n=Count("*"),
        # Re-enqueued by any route: the source of its latest send is not the first.
        retried=Count("status", filter=~Q(enqueue_source=Source.QUEUE)),
    )
    counts = {status: 0 for status in Status.values}
    retried = {status: 0 for status in Status.values}
    for row in rows:
        counts[row["status"]] = row["n"]
        retried[row["status"]] = row["retried"]
    recovered = retried[Status.SENT]
    finished = recovered + retried[Status.PERMANENTLY_FAILED]
    return {
        "counts": counts,
        "total": sum(counts.values()),
        "recovered": recovered,
        "permanently_failed": counts[Status.PERMANENTLY_FAILED],
        "retry_success_rate": round(recovered / finished, 4) if finished else None,
    }


def attempt_durations() -> dict:
    """Average and p95 of the last ``DURATION_SAMPLE`` attempts, in ms."""
    sample = sorted(
        DeliveryAttempt.objects.order_by("-id").values_list("duration_ms", flat=True)[
            :DURATION_SAMPLE
        ]
    )
    if not sample:
        return {"count": 0, "avg_ms": None, "p95_ms": None}
    p95 = sample[math.ceil(0.95 * len(sample)) - 1]  # nearest rank
    return {
        "count": len(sample),
        "avg_ms": round(sum(sample) / len(sample), 3),
        "p95_ms": round(p95, 3),
    }


def queue_status() -> dict:
    try:
        backend = get_backend()
        depth = backend.depth()
        return {
            "ok": True,
            "backend": backend.describe(),
            "visible": depth.visible,
            "in_flight": depth.in_flight,
            "delayed": depth.delayed,
            "dead_lettered": backend.dlq_depth(),
            "error": "",
        }
    except Exception as exc:  # shown on the page instead of a 500
        return {"ok": False, "backend": "", "error": f"{exc.__class__.__name__}: {exc}"}


def hourly_series(hours: int = 24) -> list[dict]:
    """Sent / failed per hour for the last ``hours``, oldest first, gaps as zeros."""
    end = timezone.now().replace(minute=0, second=0, microsecond=0)
    start = end - timedelta(hours=hours - 1)
    stored = {row.hour: row for row in HourlyCount.objects.filter(hour__gte=start)}
    series = []
    for i in range(hours):
        hour = start + timedelta(hours=i)
        row = stored.get(hour)
        series.append(
            {
                "hour": hour,
                "sent": row.sent if row else 0,
                "failed": row.failed if row else 0,
                "permanently_failed": row.permanently_failed if row else 0,
                "dead_lettered": row.dead_lettered if row else 0,
            }
        )
    return series


def retry_cycle_status() -> dict:
    last = RetryRun.objects.select_related("actor").filter(dry_run=False).first()
    return {"last_run": last, "next_run": next_run(RETRY_CYCLE)}


def overview() -> dict:
    return {
        **status_counts(),
        "durations": attempt_durations(),
        "queue": queue_status(),
        "hourly": hourly_series(),
        **retry_cycle_status(),
    }


# Lists for pages and API


@dataclass
class MessagePage:
    items: list[MessageLog]
    next_cursor: str | None  # older messages: pass as ``after``
    prev_cursor: str | None  # newer messages: pass as ``before``


def _cursor(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({"cursor": "Malformed page cursor"}) from None


def message_page(
    *,
    filters: MessageFilter,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    within: Sequence[uuid.UUID] | None = None,
) -> MessagePage:
    """Newest first, keyset-paginated on the (time-ordered) id: page N costs
    the same as page 1 on a million rows. ``within``: only these ids (the
    matches of a recipient prefix, found on its index, so that the page never
    walks the whole table looking for them)."""
    qs = filters.apply(MessageLog.objects.select_related("batch"))
    if within is not None:
        qs = qs.filter(id__in=within)
    after_id, before_id = _cursor(after), _cursor(before)
    if before_id is not None:
        rows = list(qs.filter(id__gt=before_id).order_by("id")[: limit + 1])
        has_newer = len(rows) > limit
        items = list(reversed(rows[:limit]))
        has_older = True
    else:
        if after_id is not None:
            qs = qs.filter(id__lt=after_id)
        rows = list(qs.order_by("-id")[: limit + 1])
        has_older = len(rows) > limit
        items = rows[:limit]
        has_newer = after_id is not None
    return MessagePage(
        items=items,
        next_cursor=str(items[-1].id) if items and has_older else None,
        prev_cursor=str(items[0].id) if items and has_newer else None,
    )


def failure_groups(*, status: str = Status.PERMANENTLY_FAILED, limit: int = 100) -> list[dict]:
    """Failures grouped by error signature: count, first/last seen, a sample."""
    failures = MessageLog.objects.filter(status=status)
    groups = list(
        failures.values("error_signature")
        .annotate(
            count=Count("*"),
            first_seen=Min("updated_at"),
            last_seen=Max("updated_at"),
            # The newest message of the group: ids are UUIDv7, so the largest
            # is the newest, and their text sorts like them. (A subquery here
            # would join the GROUP BY and run once per row.)
            sample_id=Max(Cast("id", CharField())),
        )
        .order_by("-count", "error_signature")[:limit]
    )
    for group in groups:
        group["sample_id"] = uuid.UUID(group["sample_id"])
    samples = MessageLog.objects.in_bulk([g["sample_id"] for g in groups])
    for group in groups:
        group["sample"] = samples.get(group["sample_id"])
    return groups


@dataclass
class DLQEntry:
    id: str
    body: str
    receive_count: int
    dead_at: object
    reason: str
    message: MessageLog | None
    readable: bool

    @property
    def poison_loop(self) -> bool:
        """Back in the DLQ after a replay."""
        return bool(self.message and self.message.dead_letter_count > 1)


def dlq_entries(*, limit: int = 100, ids: Sequence[str] | None = None) -> list[DLQEntry]:
    """The DLQ's messages (oldest first, or ``ids``), each with its log when
    the body is ours."""
    entries = get_backend().dlq_peek(limit=limit, ids=ids)
    message_ids = {}
    for entry in entries:
        try:
            message_ids[entry.id] = decode(entry.body).message_id
        except InvalidEnvelope:
            continue
    logs = MessageLog.objects.select_related("batch").in_bulk(list(message_ids.values()))
    return [
        DLQEntry(
            id=entry.id,
            body=entry.body,
            receive_count=entry.receive_count,
            dead_at=entry.dead_at,
            reason=entry.reason,
            message=logs.get(message_ids.get(entry.id)),
            readable=entry.id in message_ids,
        )
        for entry in entries
    ]


def batch_progress(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Counts by status per batch, one grouped query for all of them."""
    progress = {pk: {status: 0 for status in Status.values} for pk in batch_ids}
    rows = (
        MessageLog.objects.filter(batch_id__in=batch_ids)
        .values("batch_id", "status")
        .annotate(n=Count("*"))  # covered by the (batch, status) index
    )
    for row in rows:
        progress[row["batch_id"]][row["status"]] = row["n"]
    return progress


# Lookups for the API


def message_status_stats() -> dict:
    """Counts by status with the retry figures, and attempt durations."""
    return {**status_counts(), "durations": attempt_durations()}


def unknown_message_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids that name no message, in the order given (so an action on a
    list can be refused whole before anything is written)."""
    known: set[uuid.UUID] = set()
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        known.update(MessageLog.objects.filter(id__in=part).values_list("id", flat=True))
    return [pk for pk in ids if pk not in known]


def unknown_dlq_ids(ids: list[str]) -> list[str]:
    """The ids that are not in the dead-letter queue, in the order given."""
    backend = get_backend()
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        known.update(entry.id for entry in backend.dlq_peek(ids=part, limit=len(part)))
    return [entry_id for entry_id in ids if entry_id not in known]
