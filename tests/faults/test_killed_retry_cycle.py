"""A retry cycle killed mid-run blocks the next one for one lock lease only.

Before, its lock row lived an hour: scheduled runs, the console button, the
command and the API were all skipped meanwhile, and the API still said
"triggered successfully".
"""

import time
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from retry_admin.models import MessageLog, QueueMessage, RetryRun, Status
from retry_admin.services.retry import INTERRUPTED, RetryCycleBusy, retry_cycle_run
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 3
TRIGGER = "/api/campaigns/retry-failed-messages"


def test_the_default_lease_lets_the_next_cycle_run_within_a_minute():
    assert django_settings.LOCK_LEASE_SECONDS <= 30


def test_a_killed_cycle_blocks_the_next_for_one_lease_only(make_batch, workers, settings, as_super):
    settings.LOCK_LEASE_SECONDS = LEASE
    settings.RETRY_CYCLE_LIMIT = 0  # uncapped: the last cycle below takes every message
    make_batch(20_000)
    MessageLog.objects.update(status=Status.FAILED, updated_at=timezone.now() - timedelta(hours=3))
    QueueMessage.objects.all().delete()

    # Uncapped, so the cycle is still at work when it is killed.
    cycle = workers.start(
        "retry_failed_messages", LOCK_LEASE_SECONDS=str(LEASE), RETRY_CYCLE_LIMIT="0"
    )
    wait_until(
        lambda: RetryRun.objects.filter(finished_at__isnull=True).exists(),
        seconds=30,
        what="the cycle to start",
        workers=workers,
    )
    cycle.kill()
    cycle.wait(timeout=10)
    killed_at = time.monotonic()

    # While its lease lasts, the dead cycle still counts as running: the API
    # and the service say so instead of claiming to have triggered one.
    busy = as_super.post(TRIGGER)
    assert busy.status_code == 409
    assert busy.json()["success"] is False
    assert "already running" in busy.json()["message"]
    with pytest.raises(RetryCycleBusy):
        retry_cycle_run(trigger=RetryRun.Trigger.COMMAND)

    run = None
    while run is None:
        assert time.monotonic() - killed_at < 2 * LEASE + 5, "the lock outlived its dead holder"
        try:
            run = retry_cycle_run(trigger=RetryRun.Trigger.COMMAND)
        except RetryCycleBusy:
            time.sleep(0.2)

    assert run.error == ""
    interrupted = RetryRun.objects.exclude(pk=run.pk).get()
    assert interrupted.error == INTERRUPTED and interrupted.finished_at is not None
    assert not MessageLog.objects.filter(status=Status.FAILED).exists()
