import pytest

from retry_admin.envelope import decode
from retry_admin.models import AuditEvent, DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.queues import get_backend
from retry_admin.services.manual_retry import message_retry
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _ids(batch) -> list:
    return list(MessageLog.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def test_it_requeues_failed_and_permanently_failed_messages_and_they_are_delivered(
    batch_with_failures, super_admin
):
    failed, permanent, *untouched = _ids(batch_with_failures)
    MessageLog.objects.filter(pk=permanent).update(status=Status.PERMANENTLY_FAILED, retry_count=3)

    result = message_retry(message_ids=[failed, permanent], user=super_admin)

    assert (result.requeued, result.already_queued, result.not_retryable) == (2, 0, 0)
    for log in MessageLog.objects.filter(pk__in=[failed, permanent]):
        assert log.status == Status.PENDING
        assert log.enqueue_source == "manual"
        assert log.enqueued_at is not None
    assert {decode(m.body).message_id for m in QueueMessage.objects.all()} == {failed, permanent}

    report = sender_drain(until_empty=True)

    assert report.sent == 2
    assert set(
        MessageLog.objects.filter(pk__in=[failed, permanent]).values_list("status", flat=True)
    ) == {Status.SENT}
    assert set(DeliveryAttempt.objects.values_list("message_id", "source")) == {
        (failed, "manual"),
        (permanent, "manual"),
    }
    assert set(MessageLog.objects.filter(pk__in=untouched).values_list("status", flat=True)) == {
        Status.FAILED
    }


def test_a_manual_retry_does_not_spend_a_retry(batch_with_failures, super_admin):
    [pk, *_] = _ids(batch_with_failures)
    message_retry(message_ids=[pk], user=super_admin)
    assert MessageLog.objects.get(pk=pk).retry_count == 0


def test_a_double_click_enqueues_once(batch_with_failures, super_admin):
    [pk, *_] = _ids(batch_with_failures)

    first = message_retry(message_ids=[pk], user=super_admin)
    second = message_retry(message_ids=[pk], user=super_admin)

    assert (first.requeued, first.already_queued) == (1, 0)
    assert (second.requeued, second.already_queued) == (0, 1)
    assert QueueMessage.objects.count() == 1
    sender_drain(until_empty=True)
    assert DeliveryAttempt.objects.filter(message_id=pk).count() == 1


def test_the_same_id_twice_in_one_call_enqueues_once(batch_with_failures, super_admin):
    [pk, *_] = _ids(batch_with_failures)

    result = message_retry(message_ids=[pk, pk], user=super_admin)

    assert result.requeued == 1
    assert QueueMessage.objects.count() == 1


def test_a_sent_message_is_not_retryable(make_batch, super_admin):
    make_batch(1)
    sender_drain(until_empty=True)
    log = MessageLog.objects.get()
    assert log.status == Status.SENT

    result = message_retry(message_ids=[log.pk], user=super_admin)

    assert (result.requeued, result.not_retryable, result.dlq_replayed) == (0, 1, 0)
    assert QueueMessage.objects.count() == 0
    log.refresh_from_db()
    assert (log.status, log.enqueue_source) == (Status.SENT, "queue")


def test_a_dead_lettered_message_is_replayed_from_the_dlq(make_dead_lettered, super_admin):
    batch = make_dead_lettered(2)
    replayed, stays = _ids(batch)
    backend = get_backend()
    assert backend.dlq_depth() == 2

    result = message_retry(message_ids=[replayed], user=super_admin)

    assert (result.requeued, result.dlq_replayed) == (0, 1)
    assert backend.dlq_depth() == 1
    [left] = backend.dlq_peek()
    assert decode(left.body).message_id == stays
    log = MessageLog.objects.get(pk=replayed)
    assert (log.status, log.enqueue_source) == (Status.PENDING, "dlq_replay")

    report = sender_drain(until_empty=True)

    assert report.sent == 1
    assert MessageLog.objects.get(pk=replayed).status == Status.SENT
    assert MessageLog.objects.get(pk=stays).status == Status.DEAD_LETTERED


def test_it_writes_an_audit_event_with_the_actor_and_counts(make_batch, super_admin):
    batch = make_batch(3)
    sender_drain(until_empty=True)
    failed, also_failed, sent = _ids(batch)
    MessageLog.objects.filter(pk__in=[failed, also_failed]).update(status=Status.FAILED)

    message_retry(message_ids=[failed, also_failed, sent], user=super_admin)

    event = AuditEvent.objects.get(action=AuditEvent.Action.MESSAGE_RETRY)
    assert event.actor == super_admin
    assert event.actor_name == "super"
    assert event.count == 2
    assert event.target == "3 messages"
    assert event.details == {
        "requested": 3,
        "requeued": 2,
        "dlq_replayed": 0,
        "already_queued": 0,
        "not_retryable": 1,
    }


def test_the_audit_target_of_one_message_is_its_id(batch_with_failures, super_admin):
    [pk, *_] = _ids(batch_with_failures)
    message_retry(message_ids=[pk], user=super_admin)
    assert AuditEvent.objects.get().target == str(pk)
