"""The figures of the overview, the API's stats and /healthz: counts and
retry figures, attempt durations, queue depth, the 24 h series."""

import math
from datetime import timedelta

from django.db.models import Count, Q, Value
from django.utils import timezone

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
from retry_admin.selectors.counts import fold_by_status

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
    come from the same statement."""
    # Two counts by status, each read from an index alone (msg_status_id;
    # msg_retried_status, of the re-enqueued logs only), in one statement so
    # that both see the same moment.
    everything = (
        MessageLog.objects.order_by().values("status").annotate(n=Count("*"), retried=Value(False))
    )
    # Re-enqueued by any route: the source of its latest send is not the first.
    again = (
        MessageLog.objects.order_by()
        .filter(~Q(enqueue_source=Source.QUEUE))
        .values("status")
        .annotate(n=Count("*"), retried=Value(True))
    )
    rows = list(everything.union(again, all=True))
    counts = fold_by_status([r for r in rows if not r["retried"]])
    retried = fold_by_status([r for r in rows if r["retried"]])
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


def message_status_stats() -> dict:
    """Counts by status with the retry figures, and attempt durations."""
    return {**status_counts(), "durations": attempt_durations()}
