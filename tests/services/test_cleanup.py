from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, Status
from retry_admin.services.cleanup import cleanup_run
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def delivered(make_batch):
    """Seven delivered messages, each with its attempt, in id order."""
    batch = make_batch(7)
    sender_drain(until_empty=True)
    assert DeliveryAttempt.objects.count() == 7
    return list(MessageLog.objects.filter(batch=batch).order_by("id"))


def test_it_deletes_old_finished_logs_and_their_attempts_only(delivered, settings):
    settings.RETENTION_DAYS = 30
    old_sent, old_permanent, old_pending, old_failed, old_dead, new_sent, new_permanent = delivered
    for log, status, days in [
        (old_sent, Status.SENT, 31),
        (old_permanent, Status.PERMANENTLY_FAILED, 31),
        (old_pending, Status.PENDING, 90),
        (old_failed, Status.FAILED, 90),
        (old_dead, Status.DEAD_LETTERED, 90),
        (new_sent, Status.SENT, 29),
        (new_permanent, Status.PERMANENTLY_FAILED, 29),
    ]:
        MessageLog.objects.filter(pk=log.pk).update(status=status, updated_at=_ago(days))

    deleted = cleanup_run()

    assert deleted == 2
    kept = {old_pending.pk, old_failed.pk, old_dead.pk, new_sent.pk, new_permanent.pk}
    assert set(MessageLog.objects.values_list("id", flat=True)) == kept
    assert set(DeliveryAttempt.objects.values_list("message_id", flat=True)) == kept


def test_it_takes_the_retention_period_as_an_argument(delivered):
    MessageLog.objects.update(updated_at=_ago(3))

    assert cleanup_run(days=5) == 0
    assert cleanup_run(days=2) == 7
    assert MessageLog.objects.count() == 0
    assert DeliveryAttempt.objects.count() == 0


def test_it_never_deletes_work_still_owed(delivered):
    owed = [Status.PENDING, Status.FAILED, Status.DEAD_LETTERED]
    for log, status in zip(delivered, owed * 3, strict=False):
        MessageLog.objects.filter(pk=log.pk).update(status=status, updated_at=_ago(3650))

    assert cleanup_run(days=1) == 0
    assert MessageLog.objects.count() == 7


def test_it_folds_old_hourly_counts_into_the_carry_row(db, settings):
    settings.RETENTION_DAYS = 30
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    HourlyCount.objects.create(hour=hour - timedelta(days=31), sent=5)
    HourlyCount.objects.create(hour=hour - timedelta(days=32), sent=2, failed=1)
    HourlyCount.objects.create(hour=hour, sent=3)

    cleanup_run()

    # The old hours are gone; their totals live on (the /metrics counters).
    rows = {row.hour: (row.sent, row.failed) for row in HourlyCount.objects.all()}
    assert rows == {HourlyCount.CARRY_HOUR: (7, 1), hour: (3, 0)}
