from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin import tasks
from retry_admin.locks import lock_acquire
from retry_admin.models import Heartbeat, MessageLog, ProcessLock, RetryRun, Status
from retry_admin.queues import QueueError, get_backend
from retry_admin.queues.db import DatabaseQueue
from retry_admin.services.batches import batch_create
from retry_admin.services.health import health_check, heartbeat
from retry_admin.services.retry import CYCLE_LOCK
from retry_admin.services.runner import RUNNER_ALIVE_SECONDS, RUNNER_BEAT
from tests.conftest import make_rows

pytestmark = pytest.mark.django_db


# send_queued_messages


@pytest.fixture
def short_sender_run(monkeypatch):
    monkeypatch.setattr(tasks, "SENDER_RUN_SECONDS", 0.2)  # not the scheduled 50 s


def test_send_skips_while_another_sender_run_holds_the_lock(make_batch, short_sender_run):
    make_batch(2)
    lock_acquire("sender-schedule", ttl_seconds=60)
    assert tasks.send_queued_messages() == {"skipped": "another sender run is active"}
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 2


def test_send_drains_the_queue_and_releases_its_lock(make_batch, short_sender_run):
    make_batch(3)
    result = tasks.send_queued_messages()
    assert result["sent"] == 3
    assert result["received"] == 3
    assert MessageLog.objects.filter(status=Status.SENT).count() == 3
    assert not ProcessLock.objects.filter(name="sender-schedule").exists()


def test_send_stands_aside_while_the_long_running_sender_is_alive(make_batch, short_sender_run):
    make_batch(2)
    heartbeat(RUNNER_BEAT, state="idle")
    assert tasks.send_queued_messages() == {
        "skipped": "the long-running sender (run_sender) is alive"
    }
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 2


@pytest.mark.parametrize("state, age", [("idle", RUNNER_ALIVE_SECONDS + 5), ("stopped", 0)])
def test_send_drains_when_the_long_running_sender_is_gone(make_batch, short_sender_run, state, age):
    make_batch(2)
    heartbeat(RUNNER_BEAT, state=state)
    Heartbeat.objects.filter(name=RUNNER_BEAT).update(
        beat_at=timezone.now() - timedelta(seconds=age)
    )
    assert tasks.send_queued_messages()["sent"] == 2


# dispatch_outbox


@pytest.fixture
def outbox(template, monkeypatch):
    """Five pending logs that never reached the queue: it was down when the
    batch was created (and a test transaction never runs on_commit)."""

    def down(self, bodies, **kwargs):
        raise QueueError("queue is down")

    with monkeypatch.context() as patch:
        patch.setattr(DatabaseQueue, "send", down)
        batch_create(name="Outbox", template=template, recipients=make_rows(5), channel="log")
    assert MessageLog.objects.needing_dispatch().count() == 5
    return MessageLog.objects.order_by("id")


def test_dispatch_enqueues_pending_logs_older_than_the_grace_period(outbox):
    old = [log.pk for log in outbox[:3]]
    MessageLog.objects.filter(pk__in=old).update(updated_at=timezone.now() - timedelta(minutes=2))
    assert tasks.dispatch_outbox() == {"enqueued": 3, "error": ""}
    assert set(
        MessageLog.objects.filter(enqueued_at__isnull=False).values_list("pk", flat=True)
    ) == set(old)
    assert get_backend().depth().visible == 3
    assert MessageLog.objects.needing_dispatch().count() == 2  # fresh ones wait their turn


def test_dispatch_leaves_fresh_logs_to_their_own_dispatch(outbox):
    assert tasks.dispatch_outbox() == {"enqueued": 0, "error": ""}
    assert get_backend().depth().visible == 0


def test_dispatch_skips_while_another_run_holds_the_lock(outbox):
    MessageLog.objects.update(updated_at=timezone.now() - timedelta(minutes=2))
    lock_acquire("dispatcher", ttl_seconds=300)
    assert tasks.dispatch_outbox() == {"skipped": "another dispatcher run is active"}
    assert get_backend().depth().visible == 0


# scheduler_heartbeat


def test_the_scheduler_heartbeat_is_recorded():
    assert not Heartbeat.objects.filter(name="scheduler").exists()
    tasks.scheduler_heartbeat()
    beat = Heartbeat.objects.get(name="scheduler")
    assert timezone.now() - beat.beat_at < timedelta(seconds=5)
    assert health_check()["checks"]["scheduler"]["ok"] is True


def test_a_new_heartbeat_moves_the_time_forward():
    tasks.scheduler_heartbeat()
    Heartbeat.objects.update(beat_at=timezone.now() - timedelta(hours=1))
    tasks.scheduler_heartbeat()
    assert timezone.now() - Heartbeat.objects.get(name="scheduler").beat_at < timedelta(seconds=5)
    assert Heartbeat.objects.count() == 1


# run_retry_cycle


def test_the_retry_cycle_skips_while_another_holds_the_lock(batch_with_failures):
    lock_acquire(CYCLE_LOCK, ttl_seconds=3600)
    result = tasks.run_retry_cycle()
    assert result == {"skipped": "Another retry cycle is running"}
    assert RetryRun.objects.count() == 0
    assert MessageLog.objects.filter(status=Status.FAILED).count() == 4


def test_the_retry_cycle_requeues_failed_messages(batch_with_failures):
    result = tasks.run_retry_cycle()
    run = RetryRun.objects.get()
    assert result == {"run": run.pk, "requeued": 4, "selected": 4}
    assert run.trigger == RetryRun.Trigger.SCHEDULE
    assert run.actor is None
    assert MessageLog.objects.filter(status=Status.PENDING, retry_count=1).count() == 4


def test_the_retry_cycle_records_who_triggered_it(batch_with_failures, super_admin):
    tasks.run_retry_cycle(trigger=RetryRun.Trigger.API, user_id=super_admin.pk)
    run = RetryRun.objects.get()
    assert (run.trigger, run.actor) == (RetryRun.Trigger.API, super_admin)


def test_the_cleanup_task_uses_the_retention_setting(settings, make_batch):
    settings.RETENTION_DAYS = 30
    make_batch(3)
    MessageLog.objects.update(status=Status.SENT)
    logs = MessageLog.objects.order_by("id")
    MessageLog.objects.filter(pk=logs[0].pk).update(updated_at=timezone.now() - timedelta(days=31))
    MessageLog.objects.filter(pk=logs[1].pk).update(updated_at=timezone.now() - timedelta(days=29))
    assert tasks.cleanup_old_messages() == {"deleted": 1}
    assert MessageLog.objects.count() == 2


def test_reconcile_dlq_runs_apart_from_the_sender_under_its_own_lock():
    assert tasks.reconcile_dlq() == {"reconciled": 0}  # the db queue never redrives
    token = lock_acquire("dlq-reconcile", ttl_seconds=60)
    assert token
    assert "skipped" in tasks.reconcile_dlq()
