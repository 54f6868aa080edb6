"""Reads for pages, API and commands: counts, rates, depth, series."""

from datetime import timedelta

from django.db.models import Count, Q
from django.utils import timezone

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, RetryRun, Status
from retry_admin.queues import get_backend
from retry_admin.schedules import RETRY_CYCLE, next_run

DURATION_SAMPLE = 10_000


def status_counts() -> dict:
    """Counts by status, plus the retry figures that come from the same scan."""
    rows = MessageLog.objects.values("status").annotate(
        n=Count("id"), retried=Count("id", filter=Q(retry_count__gt=0))
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
    p95 = sample[min(len(sample) - 1, int(len(sample) * 0.95))]
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
    last = RetryRun.objects.filter(dry_run=False).first()
    return {"last_run": last, "next_run": next_run(RETRY_CYCLE)}


def overview() -> dict:
    return {
        **status_counts(),
        "durations": attempt_durations(),
        "queue": queue_status(),
        "hourly": hourly_series(),
        **retry_cycle_status(),
    }
