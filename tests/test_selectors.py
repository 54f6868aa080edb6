from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, Status
from retry_admin.queues import get_backend, reset_backends
from retry_admin.selectors import attempt_durations, hourly_series, queue_status, status_counts
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _set(logs, status, retry_count=0):
    """As the retry cycle leaves them: a retried log was last enqueued by it."""
    MessageLog.objects.filter(pk__in=[log.pk for log in logs]).update(
        status=status, retry_count=retry_count, enqueue_source="retry" if retry_count else "queue"
    )


# Status counts


def test_it_counts_messages_by_status(make_batch):
    logs = list(MessageLog.objects.filter(batch=make_batch(10)).order_by("id"))
    _set(logs[0:4], Status.SENT)
    _set(logs[4:6], Status.FAILED)
    _set(logs[6:7], Status.PERMANENTLY_FAILED)
    _set(logs[7:8], Status.DEAD_LETTERED)

    stats = status_counts()

    assert stats["counts"] == {
        "pending": 2,
        "sent": 4,
        "failed": 2,
        "permanently_failed": 1,
        "dead_lettered": 1,
    }
    assert stats["total"] == 10
    assert stats["permanently_failed"] == 1


def test_it_counts_recovered_messages_and_the_retry_success_rate(make_batch):
    logs = list(MessageLog.objects.filter(batch=make_batch(10)).order_by("id"))
    _set(logs[0:3], Status.SENT, retry_count=1)  # recovered by a retry
    _set(logs[3:5], Status.SENT)  # sent first time: not a retry success
    _set(logs[5:6], Status.PERMANENTLY_FAILED, retry_count=3)  # retried, gave up
    _set(logs[6:8], Status.PERMANENTLY_FAILED)  # never retried (permanent error)
    _set(logs[8:10], Status.FAILED, retry_count=1)  # still in play

    stats = status_counts()

    assert stats["recovered"] == 3
    assert stats["permanently_failed"] == 3
    assert stats["retry_success_rate"] == 0.75


def test_the_retry_success_rate_is_none_before_any_retry_finished(make_batch):
    make_batch(3)
    stats = status_counts()
    assert stats["retry_success_rate"] is None
    assert stats["recovered"] == 0
    assert stats["counts"]["pending"] == 3


def test_it_counts_nothing_in_an_empty_database(db):
    stats = status_counts()
    assert stats["total"] == 0
    assert set(stats["counts"].values()) == {0}


# Durations


def test_it_reports_the_average_and_p95_of_attempt_durations(make_batch):
    [log] = MessageLog.objects.filter(batch=make_batch(1))
    durations = [10.0] * 90 + [200.0] * 10
    DeliveryAttempt.objects.bulk_create(
        DeliveryAttempt(message=log, number=i + 1, source="queue", outcome="sent", duration_ms=ms)
        for i, ms in enumerate(durations)
    )

    stats = attempt_durations()

    assert stats == {"count": 100, "avg_ms": 29.0, "p95_ms": 200.0}


def test_it_reports_no_durations_without_attempts(db):
    assert attempt_durations() == {"count": 0, "avg_ms": None, "p95_ms": None}


def test_it_measures_the_senders_attempts(make_batch):
    make_batch(3)
    sender_drain(until_empty=True)
    stats = attempt_durations()
    durations = sorted(DeliveryAttempt.objects.values_list("duration_ms", flat=True))
    assert stats["count"] == 3
    assert stats["avg_ms"] == round(sum(durations) / 3, 3)
    assert stats["p95_ms"] == round(durations[-1], 3)


# Hourly series


def test_the_hourly_series_has_24_hours_oldest_first_with_gaps_as_zeros(make_batch):
    make_batch(3)
    sender_drain(until_empty=True)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    HourlyCount.objects.create(hour=hour - timedelta(hours=5), sent=7, failed=2)
    HourlyCount.objects.create(hour=hour - timedelta(hours=24), sent=99)  # out of the window

    series = hourly_series()

    assert len(series) == 24
    assert [point["hour"] for point in series] == [
        hour - timedelta(hours=23 - i) for i in range(24)
    ]
    assert series[-1]["sent"] == 3  # counted by the sender
    assert (series[-6]["sent"], series[-6]["failed"]) == (7, 2)
    others = [p for i, p in enumerate(series) if i not in (18, 23)]
    assert all(
        (p["sent"], p["failed"], p["permanently_failed"], p["dead_lettered"]) == (0, 0, 0, 0)
        for p in others
    )
    assert sum(point["sent"] for point in series) == 10


def test_the_hourly_series_takes_its_length(db):
    assert len(hourly_series(hours=6)) == 6


# Queue status


def test_it_reports_the_queue_depth(make_batch):
    make_batch(4)
    backend = get_backend()
    backend.receive(1, visibility_timeout=60)  # in flight
    [delayed] = backend.receive(1, visibility_timeout=60)
    backend.release([delayed.handle], delay_seconds=300)
    [poison] = backend.receive(1, visibility_timeout=60)
    backend.dead_letter([poison.handle], reason="test")

    status = queue_status()

    assert status["ok"] is True
    assert status["error"] == ""
    assert "batch-messages" in status["backend"]
    assert (status["visible"], status["in_flight"], status["delayed"]) == (1, 1, 1)
    assert status["dead_lettered"] == 1


def test_it_reports_an_unusable_queue_instead_of_raising(db, settings):
    settings.QUEUE_BACKEND = "nope"
    reset_backends()

    status = queue_status()

    assert status["ok"] is False
    assert "Unknown queue backend 'nope'" in status["error"]
