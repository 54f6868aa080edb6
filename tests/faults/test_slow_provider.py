"""A provider slower than the visibility timeout, through real processes.

Two ``run_sender`` processes share the queue; the webhook answers after 3 s
while messages are invisible for only 2 s, so every chunk outlives its first
visibility timeout several times over. Before the lease keeper, each message
was taken over by the other sender every round, sent five times and
dead-lettered.
"""

import pytest
from django.db.models import Count

from retry_admin.models import DeliveryAttempt, MessageLog, QueueMessage, Status
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 16
SLOW = {
    "QUEUE_VISIBILITY_TIMEOUT": "2",
    "SENDER_BATCH_SIZE": "8",
    "SENDER_CONCURRENCY": "4",
}


def finished() -> bool:
    return not MessageLog.objects.filter(status=Status.PENDING).exists()


def test_a_provider_slower_than_the_visibility_timeout_gets_each_message_once(
    make_batch, workers, receiver, settings
):
    receiver.delay = 3
    settings.WEBHOOK_URL = receiver.url
    make_batch(MESSAGES, channel="webhook")
    for _ in range(2):
        workers.start("run_sender", WEBHOOK_URL=receiver.url, **SLOW)

    wait_until(finished, seconds=60, what="every message to have an outcome", workers=workers)

    assert receiver.deliveries() == MESSAGES, workers.output()
    assert set(receiver.keys.values()) == {1}
    assert receiver.mismatched == []
    logs = MessageLog.objects.all()
    assert {log.status for log in logs} == {Status.SENT}
    assert {(log.attempt_count, log.receive_count) for log in logs} == {(1, 1)}
    assert all(log.sent_at for log in logs)
    attempts = DeliveryAttempt.objects.values("message").annotate(n=Count("id"))
    assert {row["n"] for row in attempts} == {1}
    assert not QueueMessage.objects.filter(dead=True).exists()
    assert all(process.poll() is None for process in workers.processes)


def test_a_provider_hanging_past_the_timeout_is_one_transient_failure(
    make_batch, workers, receiver, settings
):
    receiver.delay = 3
    settings.WEBHOOK_URL = receiver.url
    make_batch(4, channel="webhook")
    workers.start("run_sender", WEBHOOK_URL=receiver.url, WEBHOOK_TIMEOUT_SECONDS="1", **SLOW)

    wait_until(finished, seconds=60, what="every message to have an outcome", workers=workers)

    assert set(receiver.keys.values()) == {1}  # one POST each: no re-receive
    logs = MessageLog.objects.all()
    assert {log.status for log in logs} == {Status.FAILED}  # for the retry cycle
    assert {(log.attempt_count, log.receive_count, log.retry_count) for log in logs} == {(1, 1, 0)}
    assert all("timed out" in log.last_error for log in logs)
    assert not QueueMessage.objects.exists()
