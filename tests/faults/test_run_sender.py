"""The long-running sender (`manage.py run_sender`): real processes on the
test database. It delivers within a second of the enqueue's commit while
idle, and a SIGTERM lets the chunk in hand finish (outcomes recorded, queue
rows acked) before it exits 0."""

import signal
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from retry_admin.models import DeliveryAttempt, Heartbeat, MessageLog, QueueMessage, Status
from retry_admin.services.runner import RUNNER_BEAT
from tests.processes import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

# Much longer than a wake (0.2 s poll, or NOTIFY): a sender that only polled
# every SENDER_POLL_SECONDS would miss the deadline below.
POLL = "30"


def _idle(workers):
    wait_until(
        lambda: (
            (
                Heartbeat.objects.filter(name=RUNNER_BEAT).values_list("details", flat=True).first()
                or {}
            ).get("state")
            == "idle"
        ),
        seconds=30,
        what="the sender to report idle",
        workers=workers,
    )


def _first_delivery_seconds(make_batch, workers, count: int = 5) -> float:
    started = time.monotonic()
    batch = make_batch(count)
    wait_until(
        lambda: MessageLog.objects.filter(batch=batch, status=Status.SENT).count() == count,
        seconds=10,
        what="the batch to be delivered",
        workers=workers,
    )
    return time.monotonic() - started


def test_an_idle_sender_delivers_a_new_batch_within_a_second(make_batch, workers):
    workers.start("run_sender", SENDER_POLL_SECONDS=POLL)
    _idle(workers)
    times = []
    for _ in range(3):
        times.append(_first_delivery_seconds(make_batch, workers))
        _idle(workers)
    assert max(times) < 1.0, times
    beat = Heartbeat.objects.get(name=RUNNER_BEAT).details
    assert beat["wakes_on"] == ("notify" if connection.vendor == "postgresql" else "poll")
    assert beat["sent"] == 15


@pytest.mark.postgres
def test_on_postgresql_it_wakes_on_notify_not_on_the_poll(make_batch, workers):
    # With the idle poll at 30 s only NOTIFY can wake it in time.
    workers.start("run_sender", SENDER_POLL_SECONDS=POLL, SENDER_IDLE_POLL_SECONDS="30")
    _idle(workers)
    time.sleep(0.5)  # past its first look at the queue: now it only listens
    assert _first_delivery_seconds(make_batch, workers) < 1.0


def test_sigterm_finishes_the_chunk_in_hand_and_exits_cleanly(make_batch, workers, settings):
    count = 40
    make_batch(count, channel="simulated")
    process = workers.start(
        "run_sender",
        SENDER_POLL_SECONDS=POLL,
        SIMULATED_LATENCY_MS="100",
        SIMULATED_TRANSIENT_RATE="0",
        SIMULATED_PERMANENT_RATE="0",
        SENDER_CONCURRENCY="4",
        SENDER_BATCH_SIZE="20",
    )
    wait_until(
        lambda: DeliveryAttempt.objects.exists(),
        seconds=30,
        what="the first outcomes",
        workers=workers,
    )
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, workers.output()
    sent = MessageLog.objects.filter(status=Status.SENT).count()
    # It stopped early, after whole windows: every send has its attempt row,
    # its queue row is gone, and the rest waits on the queue, unreceived.
    assert 0 < sent < count
    assert DeliveryAttempt.objects.count() == sent
    assert MessageLog.objects.filter(status=Status.PENDING).count() == count - sent
    assert QueueMessage.objects.count() == count - sent
    assert Heartbeat.objects.get(name=RUNNER_BEAT).details["state"] == "stopped"
    assert "received=" in workers.full_output()


@pytest.mark.postgres
def test_on_postgresql_it_finds_messages_that_become_visible_later(make_batch, workers):
    # No NOTIFY marks a message becoming visible (a delayed release, a killed
    # sender's after its visibility timeout): the listening sender must look
    # again every SENDER_POLL_SECONDS, not only every 5 s.
    workers.start("run_sender", SENDER_POLL_SECONDS="0.2", SENDER_IDLE_POLL_SECONDS="30")
    _idle(workers)
    for _ in range(2):
        with transaction.atomic():  # the NOTIFY goes out at commit, the rows invisible
            batch = make_batch(3)
            visible_at = timezone.now() + timedelta(seconds=3)
            QueueMessage.objects.update(visible_at=visible_at)
        back_at = time.monotonic() + 3
        wait_until(
            lambda batch=batch: (
                not MessageLog.objects.filter(batch=batch, status=Status.PENDING).exists()
            ),
            seconds=15,
            what="the delayed messages to be sent",
            workers=workers,
        )
        assert 0 < time.monotonic() - back_at < 1.0
        _idle(workers)
