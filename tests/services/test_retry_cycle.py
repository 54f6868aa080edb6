import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.channels import reset_channels
from retry_admin.envelope import decode
from retry_admin.locks import lock_acquire
from retry_admin.models import (
    AuditEvent,
    DeliveryAttempt,
    MessageLog,
    QueueMessage,
    RetryRun,
    Status,
    error_signature,
)
from retry_admin.queues import QueueError
from retry_admin.queues.db import DatabaseQueue
from retry_admin.services.retry import RetryCycleBusy, retry_cycle_run
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _ago(hours: float):
    return timezone.now() - timedelta(hours=hours)


def _queued_ids() -> set:
    return {decode(m.body).message_id for m in QueueMessage.objects.filter(dead=False)}


def _logs(batch) -> list[MessageLog]:
    return list(MessageLog.objects.filter(batch=batch).order_by("id"))


def _down(self, bodies, **kwargs):
    raise QueueError("queue is down")


# Selection


def test_it_requeues_only_failed_messages(make_batch):
    batch = make_batch(5)
    failed, pending, sent, permanent, dead = _logs(batch)
    for log, status in [
        (failed, Status.FAILED),
        (pending, Status.PENDING),
        (sent, Status.SENT),
        (permanent, Status.PERMANENTLY_FAILED),
        (dead, Status.DEAD_LETTERED),
    ]:
        MessageLog.objects.filter(pk=log.pk).update(status=status, updated_at=_ago(3))
    QueueMessage.objects.all().delete()

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued) == (1, 1)
    assert _queued_ids() == {failed.pk}
    statuses = dict(MessageLog.objects.values_list("id", "status"))
    assert statuses == {
        failed.pk: Status.PENDING,
        pending.pk: Status.PENDING,
        sent.pk: Status.SENT,
        permanent.pk: Status.PERMANENTLY_FAILED,
        dead.pk: Status.DEAD_LETTERED,
    }


def test_it_requeues_only_messages_with_retries_left(batch_with_failures, settings):
    settings.MAX_MESSAGE_RETRY_COUNT = 3
    last_chance, used_up, *_ = _logs(batch_with_failures)
    MessageLog.objects.filter(pk=last_chance.pk).update(retry_count=2)
    MessageLog.objects.filter(pk=used_up.pk).update(retry_count=3)

    run = retry_cycle_run(trigger="schedule")

    assert run.requeued == 3
    assert used_up.pk not in _queued_ids()
    assert last_chance.pk in _queued_ids()
    last_chance.refresh_from_db()
    assert (last_chance.status, last_chance.retry_count) == (Status.PENDING, 3)


def test_it_leaves_a_just_failed_message_alone(make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    make_batch(1, channel="simulated")
    sender_drain(until_empty=True)
    log = MessageLog.objects.get()
    assert log.status == Status.FAILED

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued) == (0, 0)
    log.refresh_from_db()
    assert (log.status, log.retry_count) == (Status.FAILED, 0)
    assert QueueMessage.objects.count() == 0


def test_it_picks_a_message_only_once_retry_after_hours_have_passed(batch_with_failures, settings):
    settings.MESSAGE_RETRY_AFTER_HOURS = 2
    old_enough, too_recent, *rest = _logs(batch_with_failures)
    MessageLog.objects.filter(pk=old_enough.pk).update(
        updated_at=timezone.now() - timedelta(hours=2, seconds=5)
    )
    MessageLog.objects.filter(pk=too_recent.pk).update(
        updated_at=timezone.now() - timedelta(hours=1, minutes=59)
    )

    retry_cycle_run(trigger="schedule")

    assert _queued_ids() == {old_enough.pk, *(log.pk for log in rest)}
    too_recent.refresh_from_db()
    assert (too_recent.status, too_recent.retry_count) == (Status.FAILED, 0)


def test_it_marks_a_failed_message_without_a_batch_permanently_failed(batch_with_failures):
    batch_with_failures.delete()  # SET_NULL: the logs stay, without a batch
    assert MessageLog.objects.filter(batch=None, status=Status.FAILED).count() == 4

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued, run.permanently_failed) == (0, 0, 4)
    assert QueueMessage.objects.count() == 0
    for log in MessageLog.objects.all():
        assert log.status == Status.PERMANENTLY_FAILED
        assert log.retry_count == 0
        assert log.last_error == "Batch or template no longer exists"


def test_it_marks_a_failed_message_whose_template_is_gone_permanently_failed(
    batch_with_failures,
):
    batch_with_failures.template.delete()

    run = retry_cycle_run(trigger="schedule")

    assert (run.requeued, run.permanently_failed) == (0, 4)
    assert QueueMessage.objects.count() == 0
    assert set(MessageLog.objects.values_list("status", "last_error")) == {
        (Status.PERMANENTLY_FAILED, "Batch or template no longer exists")
    }


# Requeue and delivery


def test_it_requeues_a_failed_message_and_the_sender_delivers_it(make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    make_batch(2, channel="simulated")
    sender_drain(until_empty=True)
    assert MessageLog.objects.filter(status=Status.FAILED).count() == 2
    MessageLog.objects.update(updated_at=_ago(3))

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued, run.still_failed) == (2, 2, 0)
    for log in MessageLog.objects.all():
        assert log.status == Status.PENDING
        assert log.retry_count == 1
        assert log.enqueue_source == "retry"
        assert log.enqueued_at is not None
    assert _queued_ids() == set(MessageLog.objects.values_list("id", flat=True))

    settings.SIMULATED_TRANSIENT_RATE = 0.0
    reset_channels()  # the channel reads its rates when built
    report = sender_drain(until_empty=True)

    assert report.sent == 2
    for log in MessageLog.objects.all():
        assert (log.status, log.retry_count, log.attempt_count) == (Status.SENT, 1, 2)
        attempts = list(log.attempts.values_list("number", "source", "outcome"))
        assert attempts == [(1, "queue", "transient"), (2, "retry", "sent")]
    assert QueueMessage.objects.count() == 0


def test_it_keeps_a_message_failed_when_the_queue_is_unavailable(
    batch_with_failures, monkeypatch, caplog
):
    monkeypatch.setattr(DatabaseQueue, "send", _down)

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued, run.still_failed) == (4, 0, 4)
    assert "queue" in run.error.lower() and "queue is down" in run.error
    assert RetryRun.objects.get().error == run.error
    assert "queue unavailable" in caplog.text
    for log in _logs(batch_with_failures):
        assert (log.status, log.retry_count) == (Status.FAILED, 1)
        assert log.enqueued_at is None
        assert "queue is down" in log.last_error
        # The failures page groups by signature: it must describe the new error.
        assert log.error_signature == error_signature(log.last_error)
    assert QueueMessage.objects.count() == 0


def test_the_unavailable_queue_is_tried_again_next_cycle(batch_with_failures, monkeypatch):
    monkeypatch.setattr(DatabaseQueue, "send", _down)
    retry_cycle_run(trigger="schedule")
    monkeypatch.undo()
    MessageLog.objects.update(updated_at=_ago(3))

    run = retry_cycle_run(trigger="schedule")

    assert run.requeued == 4 and run.error == ""
    assert set(MessageLog.objects.values_list("status", "retry_count")) == {(Status.PENDING, 2)}
    assert QueueMessage.objects.count() == 4


def test_a_failed_enqueue_at_the_last_retry_is_permanent(
    batch_with_failures, monkeypatch, settings
):
    settings.MAX_MESSAGE_RETRY_COUNT = 3
    MessageLog.objects.update(retry_count=2)
    monkeypatch.setattr(DatabaseQueue, "send", _down)

    run = retry_cycle_run(trigger="schedule")

    assert (run.requeued, run.still_failed, run.permanently_failed) == (0, 0, 4)
    assert set(MessageLog.objects.values_list("status", "retry_count")) == {
        (Status.PERMANENTLY_FAILED, 3)
    }
    for log in MessageLog.objects.all():
        assert "queue is down" in log.last_error
        assert log.error_signature == error_signature(log.last_error)


def test_a_failed_delivery_of_the_last_retry_is_permanent(make_batch, settings):
    settings.MAX_MESSAGE_RETRY_COUNT = 1
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    make_batch(1, channel="simulated")
    sender_drain(until_empty=True)
    MessageLog.objects.update(updated_at=_ago(3))

    assert retry_cycle_run(trigger="schedule").requeued == 1
    sender_drain(until_empty=True)

    log = MessageLog.objects.get()
    assert (log.status, log.retry_count, log.attempt_count) == (Status.PERMANENTLY_FAILED, 1, 2)
    MessageLog.objects.update(updated_at=_ago(3))
    assert retry_cycle_run(trigger="schedule").selected == 0


def test_the_sweep_marks_messages_out_of_retries_permanently_failed(batch_with_failures, settings):
    settings.MAX_MESSAGE_RETRY_COUNT = 3
    out, *_ = _logs(batch_with_failures)
    # Failed just now: the sweep does not wait for MESSAGE_RETRY_AFTER_HOURS.
    MessageLog.objects.filter(pk=out.pk).update(retry_count=3, updated_at=timezone.now())

    run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued, run.permanently_failed) == (3, 3, 1)
    out.refresh_from_db()
    assert (out.status, out.retry_count) == (Status.PERMANENTLY_FAILED, 3)
    assert out.pk not in _queued_ids()


# Invalid data


def test_it_skips_and_logs_invalid_data_and_leaves_it_unchanged(batch_with_failures, caplog):
    blank, not_object, *valid = _logs(batch_with_failures)
    MessageLog.objects.filter(pk=blank.pk).update(recipient="   ")
    MessageLog.objects.filter(pk=not_object.pk).update(context=["not", "an", "object"])
    before = {
        log.pk: (log.status, log.retry_count, log.updated_at)
        for log in MessageLog.objects.filter(pk__in=[blank.pk, not_object.pk])
    }

    with caplog.at_level(logging.WARNING, logger="retry_admin.services.retry"):
        run = retry_cycle_run(trigger="schedule")

    assert (run.selected, run.requeued, run.skipped) == (4, 2, 2)
    assert RetryRun.objects.get().skipped == 2
    assert f"skipped message {blank.pk}: no recipient" in caplog.text
    assert f"skipped message {not_object.pk}: context is not an object" in caplog.text
    after = {
        log.pk: (log.status, log.retry_count, log.updated_at)
        for log in MessageLog.objects.filter(pk__in=[blank.pk, not_object.pk])
    }
    assert after == before
    assert _queued_ids() == {log.pk for log in valid}


# The run record


def test_it_records_the_run(make_batch, settings, monkeypatch, super_admin):
    settings.MAX_MESSAGE_RETRY_COUNT = 3
    # A transport with a smaller size limit than the db queue's 256 KiB.
    monkeypatch.setattr(DatabaseQueue, "max_body_bytes", 400)
    batch = make_batch(6)
    ok1, ok2, too_big, too_big_last, blank, used_up = _logs(batch)
    MessageLog.objects.filter(batch=batch).update(status=Status.FAILED, updated_at=_ago(3))
    long_recipient = "x" * 300 + "@example.com"
    MessageLog.objects.filter(pk=too_big.pk).update(recipient=long_recipient)
    MessageLog.objects.filter(pk=too_big_last.pk).update(recipient=long_recipient, retry_count=2)
    MessageLog.objects.filter(pk=blank.pk).update(recipient="")
    MessageLog.objects.filter(pk=used_up.pk).update(retry_count=3)
    QueueMessage.objects.all().delete()

    run = retry_cycle_run(trigger="console", user=super_admin)

    stored = RetryRun.objects.get()
    assert stored.pk == run.pk
    assert (stored.trigger, stored.actor, stored.dry_run) == ("console", super_admin, False)
    assert stored.selected == 5  # all but the one the sweep took
    assert stored.requeued == 2
    assert stored.still_failed == 1
    assert stored.permanently_failed == 2
    assert stored.skipped == 1
    assert stored.finished_at >= stored.started_at
    assert _queued_ids() == {ok1.pk, ok2.pk}
    statuses = dict(MessageLog.objects.values_list("id", "status"))
    assert statuses[too_big.pk] == Status.FAILED
    assert statuses[too_big_last.pk] == Status.PERMANENTLY_FAILED
    assert statuses[blank.pk] == Status.FAILED
    assert statuses[used_up.pk] == Status.PERMANENTLY_FAILED
    event = AuditEvent.objects.get(action=AuditEvent.Action.RETRY_CYCLE)
    assert (event.actor, event.target) == (super_admin, f"run {run.pk}")


def test_a_dry_run_changes_nothing(batch_with_failures, settings):
    settings.MAX_MESSAGE_RETRY_COUNT = 3
    blank, used_up, *_ = _logs(batch_with_failures)
    MessageLog.objects.filter(pk=blank.pk).update(recipient="")
    MessageLog.objects.filter(pk=used_up.pk).update(retry_count=3)
    before = list(MessageLog.objects.values_list("id", "status", "retry_count", "updated_at"))

    plan = retry_cycle_run(trigger="command", dry_run=True)

    assert plan.dry_run is True
    assert plan.pk is None
    assert (plan.selected, plan.requeued, plan.skipped, plan.permanently_failed) == (3, 2, 1, 1)
    assert RetryRun.objects.count() == 0
    assert QueueMessage.objects.count() == 0
    after = list(MessageLog.objects.values_list("id", "status", "retry_count", "updated_at"))
    assert after == before


def test_the_cycle_limit_caps_how_many_are_requeued(batch_with_failures, settings):
    settings.RETRY_CYCLE_LIMIT = 3

    run = retry_cycle_run(trigger="schedule")

    assert run.requeued == 3
    assert QueueMessage.objects.count() == 3
    assert MessageLog.objects.filter(status=Status.PENDING, retry_count=1).count() == 3
    assert MessageLog.objects.filter(status=Status.FAILED, retry_count=0).count() == 1

    assert retry_cycle_run(trigger="schedule").requeued == 1
    assert QueueMessage.objects.count() == 4


def test_exponential_backoff_waits_for_next_retry_at(batch_with_failures, settings):
    settings.RETRY_BACKOFF = "exponential"
    future, past, unset, _ = _logs(batch_with_failures)
    now = timezone.now()
    MessageLog.objects.filter(pk=future.pk).update(next_retry_at=now + timedelta(hours=1))
    MessageLog.objects.filter(pk=past.pk).update(next_retry_at=now - timedelta(minutes=1))
    MessageLog.objects.filter(pk=unset.pk).update(next_retry_at=None)

    run = retry_cycle_run(trigger="schedule")

    assert run.requeued == 3
    assert future.pk not in _queued_ids()
    assert past.pk in _queued_ids() and unset.pk in _queued_ids()
    future.refresh_from_db()
    assert (future.status, future.retry_count) == (Status.FAILED, 0)


def test_fixed_backoff_ignores_next_retry_at(batch_with_failures, settings):
    settings.RETRY_BACKOFF = "fixed"
    MessageLog.objects.update(next_retry_at=timezone.now() + timedelta(hours=1))

    assert retry_cycle_run(trigger="schedule").requeued == 4


# Concurrency


def test_a_second_cycle_is_refused_while_one_is_running(batch_with_failures):
    assert lock_acquire("retry-cycle", ttl_seconds=60) is not None

    with pytest.raises(RetryCycleBusy):
        retry_cycle_run(trigger="schedule")

    assert RetryRun.objects.count() == 0
    assert set(MessageLog.objects.values_list("status", "retry_count")) == {(Status.FAILED, 0)}
    assert QueueMessage.objects.count() == 0


def test_the_lock_is_released_after_a_cycle(batch_with_failures):
    retry_cycle_run(trigger="schedule")
    assert lock_acquire("retry-cycle", ttl_seconds=60) is not None


def test_it_does_not_requeue_twice_in_two_cycles(batch_with_failures):
    retry_cycle_run(trigger="schedule")
    second = retry_cycle_run(trigger="schedule")

    assert (second.selected, second.requeued) == (0, 0)
    assert QueueMessage.objects.count() == 4
    sender_drain(until_empty=True)
    assert DeliveryAttempt.objects.count() == 4
