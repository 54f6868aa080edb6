"""A kill -9 storm: two senders, 10,000 messages, 20 SIGKILLs.

A recording webhook receiver counts every POST by its Idempotency-Key. The
promise: nothing lost, nothing recorded twice, and a message delivered twice
only if it was at the channel when its sender was killed, so at most
``SENDER_CONCURRENCY`` repeats per kill, each with the same idempotency key.
"""

import random
import time

import pytest
from django.db.models import Count

from retry_admin.models import DeliveryAttempt, MessageLog, QueueMessage, Status
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 10_000
KILLS = 20
CONCURRENCY = 8
SENDER = {
    "QUEUE_VISIBILITY_TIMEOUT": "2",
    "SENDER_BATCH_SIZE": "200",
    "SENDER_CONCURRENCY": str(CONCURRENCY),
}


def pending() -> int:
    return MessageLog.objects.filter(status=Status.PENDING).count()


def test_a_kill_storm_loses_nothing_and_repeats_only_what_was_in_flight(
    make_batch, workers, receiver, settings
):
    receiver.delay = 0.01
    settings.WEBHOOK_URL = receiver.url
    make_batch(MESSAGES, channel="webhook")
    env = {"WEBHOOK_URL": receiver.url, **SENDER}
    senders = [workers.start("run_sender", **env) for _ in range(2)]
    rng = random.Random(9)

    kills = 0
    while kills < KILLS:
        time.sleep(rng.uniform(0.2, 0.5))
        # Kill one that has been up long enough to be sending, not starting.
        ready = [p for p in senders if time.monotonic() - p.started_at > 1.5]
        if not ready:
            continue
        assert pending() > 0, f"the messages ran out after {kills} kills: make the storm denser"
        victim = rng.choice(ready)
        victim.kill()
        victim.wait(timeout=10)
        kills += 1
        senders[senders.index(victim)] = workers.start("run_sender", **env)

    wait_until(lambda: pending() == 0, seconds=120, what="the queue to drain", workers=workers)

    logs = MessageLog.objects.all()
    lost = MESSAGES - len(receiver.keys)
    sent_attempts = (
        DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.SENT)
        .values("message")
        .annotate(n=Count("id"))
    )
    recorded_twice = sum(1 for row in sent_attempts if row["n"] > 1)
    duplicates = receiver.deliveries() - len(receiver.keys)
    print(
        f"\nkill storm: messages={MESSAGES} kills={kills} deliveries={receiver.deliveries()} "
        f"duplicate_deliveries={duplicates} (bound {kills * CONCURRENCY}) lost={lost} "
        f"recorded_twice={recorded_twice}"
    )
    not_sent = list(logs.exclude(status=Status.SENT).values_list("status", "last_error")[:5])
    assert lost == 0, not_sent
    assert logs.filter(status=Status.SENT).count() == MESSAGES
    assert len(sent_attempts) == MESSAGES and recorded_twice == 0
    assert duplicates <= kills * CONCURRENCY
    assert receiver.mismatched == []  # every repeat carried its message id as the key
    assert not QueueMessage.objects.exists()
