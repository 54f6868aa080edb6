"""The delivery guarantees under real concurrency: several workers, each with its
own database connection, started at the same instant (docs/design.md, "Scale path").

Workers are threads rather than processes so a test can count what each one
did; every thread closes its connection so the test database can be dropped.
"""

import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count
from django.utils import timezone

from retry_admin.channels import TransientError, reset_channels
from retry_admin.channels.simulated import SimulatedChannel
from retry_admin.models import Batch, DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.queues import get_backend
from retry_admin.queues.base import QueueDepth
from retry_admin.services import retry
from retry_admin.services.keeper import LeaseKeeper
from retry_admin.services.retry import RetryCycleBusy, _claim_chunk, retry_cycle_run
from retry_admin.services.sender import sender_drain, sender_process_chunk

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 2000


def run_concurrently(*targets: Callable[[], object], timeout: float = 60) -> tuple[list, list]:
    """Run each target in its own thread, all released at once by a barrier.
    Returns (results, exceptions), one of each per target, in order."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)
    errors: list = [None] * len(targets)

    def run(index: int, target: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = target()
        except Exception as exc:  # handed back to the test, which asserts on it
            errors[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker never finished"
    return results, errors


def drain():
    return sender_drain(until_empty=True, poll_seconds=0.05)


def envelope_ids() -> Counter:
    """How many queue messages point at each message id."""
    bodies = QueueMessage.objects.values_list("body", flat=True)
    return Counter(uuid.UUID(json.loads(body)["message_id"]) for body in bodies)


def attempts_per_message(**filters) -> Counter:
    rows = DeliveryAttempt.objects.filter(**filters).values("message").annotate(n=Count("id"))
    return Counter({row["message"]: row["n"] for row in rows})


@pytest.fixture
def channel_calls(settings, monkeypatch) -> Counter:
    """Deliveries through a fast, never-failing simulated channel, counted per
    message id as the channel sees them (thread-safe)."""
    settings.SIMULATED_LATENCY_MS = 1
    settings.SIMULATED_TRANSIENT_RATE = 0
    settings.SIMULATED_PERMANENT_RATE = 0
    settings.SENDER_BATCH_SIZE = 50  # many chunks, so the two senders interleave
    reset_channels()
    calls: Counter = Counter()
    lock = threading.Lock()
    real_send = SimulatedChannel.send

    def counting_send(self, message):
        with lock:
            calls[message.message_id] += 1
        real_send(self, message)

    monkeypatch.setattr(SimulatedChannel, "send", counting_send)
    return calls


@pytest.fixture
def many_failures(make_batch, settings) -> Batch:
    """MESSAGES failed messages, quiet long enough to be retried, none queued;
    the cycles are uncapped, so each could take them all."""
    settings.RETRY_CYCLE_LIMIT = 0
    batch = make_batch(MESSAGES)
    three_hours_ago = timezone.now() - timedelta(hours=3)
    MessageLog.objects.update(
        status=Status.FAILED,
        last_error="Upstream gateway timeout after 30 ms",
        updated_at=three_hours_ago,
        enqueued_at=three_hours_ago,
    )
    QueueMessage.objects.all().delete()
    return batch


def assert_each_requeued_once() -> None:
    ids = set(MessageLog.objects.values_list("id", flat=True))
    assert len(ids) == MESSAGES
    assert set(MessageLog.objects.values_list("retry_count", flat=True)) == {1}
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PENDING}
    queued = envelope_ids()
    assert set(queued) == ids
    assert set(queued.values()) == {1}


# Two senders


@pytest.mark.postgres
def test_it_sends_each_message_once_with_two_senders(make_batch, channel_calls):
    make_batch(MESSAGES, channel="simulated")
    assert QueueMessage.objects.count() == MESSAGES

    reports, errors = run_concurrently(drain, drain)

    assert errors == [None, None]
    assert all(report.sent > 0 for report in reports), "both senders must have worked"
    assert sum(report.sent for report in reports) == MESSAGES
    ids = set(MessageLog.objects.values_list("id", flat=True))
    assert MessageLog.objects.filter(status=Status.SENT).count() == MESSAGES
    attempts = attempts_per_message()
    assert set(attempts) == ids and set(attempts.values()) == {1}
    assert set(channel_calls) == ids and set(channel_calls.values()) == {1}
    assert QueueMessage.objects.count() == 0


@pytest.mark.postgres
def test_it_sends_each_message_once_when_every_envelope_arrives_twice(
    make_batch, channel_calls, settings
):
    make_batch(MESSAGES // 2, channel="simulated")
    bodies = list(QueueMessage.objects.values_list("body", flat=True))
    # The transport delivers every envelope twice, in any order, so the two
    # copies of one message often reach the two senders at the same moment.
    QueueMessage.objects.all().delete()
    copies = bodies * 2
    random.Random(7).shuffle(copies)
    get_backend().send(copies)
    assert set(envelope_ids().values()) == {2}

    reports, errors = run_concurrently(drain, drain)
    assert errors == [None, None]
    assert all(report.received > 0 for report in reports), "both senders must have worked"
    # Copies deferred behind the other sender's lease come back after the
    # visibility timeout: let that time pass, then drain them too.
    QueueMessage.objects.update(visible_at=timezone.now())
    late = sender_drain(until_empty=True)

    assert late.sent == 0
    assert sum(report.sent for report in reports) == MESSAGES // 2
    assert sum(report.skipped for report in [*reports, late]) == MESSAGES // 2
    ids = set(MessageLog.objects.values_list("id", flat=True))
    assert MessageLog.objects.filter(status=Status.SENT).count() == MESSAGES // 2
    sent_attempts = attempts_per_message(outcome=DeliveryAttempt.Outcome.SENT)
    assert set(sent_attempts) == ids and set(sent_attempts.values()) == {1}
    assert DeliveryAttempt.objects.count() == MESSAGES // 2
    assert set(channel_calls) == ids and set(channel_calls.values()) == {1}
    assert QueueMessage.objects.count() == 0


def test_a_sender_whose_lease_ran_out_cannot_undo_the_send_of_the_one_that_took_over(
    make_batch, settings, monkeypatch
):
    """A stalled sender (its lease keeper silent, as in a long pause) loses
    its lease; its late failure must not overwrite the other's send."""
    settings.QUEUE_VISIBILITY_TIMEOUT = 1
    monkeypatch.setattr(LeaseKeeper, "renew", lambda self: None)
    make_batch(1, channel="simulated")
    first_in_channel, release_first = threading.Event(), threading.Event()
    calls = []

    def send(self, message):
        calls.append(message.message_id)
        if len(calls) == 1:  # the first sender hangs past its lease, then fails
            first_in_channel.set()
            release_first.wait(timeout=10)
            raise TransientError("Upstream gateway timeout after 30000 ms")

    monkeypatch.setattr(SimulatedChannel, "send", send)

    def second_sender():
        assert first_in_channel.wait(timeout=10)
        time.sleep(1.2)  # the envelope is visible again and the lease has expired
        try:
            return sender_process_chunk()
        finally:
            release_first.set()

    (first, second), errors = run_concurrently(sender_process_chunk, second_sender)

    assert errors == [None, None]
    assert (first.sent, second.sent) == (0, 1)
    assert len(calls) == 2
    log = MessageLog.objects.get()
    assert log.status == Status.SENT
    assert DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.SENT).count() == 1
    assert QueueMessage.objects.count() == 0


def test_a_live_sender_keeps_its_lease_however_slow_the_channel(make_batch, settings, monkeypatch):
    settings.QUEUE_VISIBILITY_TIMEOUT = 1
    make_batch(1, channel="simulated")
    first_in_channel, release_first = threading.Event(), threading.Event()
    calls = []

    def send(self, message):
        calls.append(message.message_id)
        first_in_channel.set()
        release_first.wait(timeout=10)  # three visibility timeouts, then it is sent

    monkeypatch.setattr(SimulatedChannel, "send", send)

    def second_sender():
        assert first_in_channel.wait(timeout=10)
        try:
            reports = []
            for _ in range(6):  # look every 0.5 s for 3 s: the message never shows
                time.sleep(0.5)
                reports.append(sender_process_chunk())
            return reports
        finally:
            release_first.set()

    (first, second), errors = run_concurrently(sender_process_chunk, second_sender)

    assert errors == [None, None]
    assert first.sent == 1
    assert sum(report.received for report in second) == 0
    assert len(calls) == 1
    log = MessageLog.objects.get()
    assert (log.status, log.attempt_count, log.receive_count) == (Status.SENT, 1, 1)
    assert QueueMessage.objects.count() == 0


# Two retry cycles


def cycle():
    return retry_cycle_run(trigger="schedule")


@pytest.mark.postgres
def test_it_requeues_each_message_once_when_two_cycles_start_at_once(many_failures):
    runs, errors = run_concurrently(cycle, cycle)

    for run, error in zip(runs, errors, strict=True):
        assert (run is None) != (error is None)
        assert error is None or isinstance(error, RetryCycleBusy), error
    assert sum(run.requeued for run in runs if run) == MESSAGES
    assert_each_requeued_once()


@contextmanager
def no_lock(name, *, ttl_seconds=None):
    yield "no-lock"


@pytest.mark.postgres
def test_two_cycles_without_the_lock_still_requeue_each_message_once(many_failures, monkeypatch):
    # Only the row claims stand between the two cycles now.
    monkeypatch.setattr(retry, "held_lock", no_lock)
    monkeypatch.setattr(retry, "CHUNK", 50)

    runs, errors = run_concurrently(cycle, cycle)

    assert errors == [None, None]
    assert all(run.requeued > 0 for run in runs), "both cycles must have claimed messages"
    assert sum(run.requeued for run in runs) == MESSAGES
    assert_each_requeued_once()


@pytest.mark.postgres
def test_a_claim_skips_the_rows_another_cycle_holds_instead_of_waiting(many_failures):
    now = timezone.now()
    with transaction.atomic():
        # This cycle holds its claimed rows locked until the block ends.
        _, held = _claim_chunk(now, None, 100)
        [(rows, claimed)], errors = run_concurrently(
            lambda: _claim_chunk(now, None, MESSAGES), timeout=10
        )
        assert errors == [None]

    assert len(held) == 100
    assert len(claimed) == len(rows) == MESSAGES - 100
    assert set(held).isdisjoint(claimed)
    assert set(MessageLog.objects.values_list("retry_count", flat=True)) == {1}
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PENDING}


# The db queue


def test_it_never_gives_one_queue_message_to_two_receivers():
    backend = get_backend()
    bodies = {f"body {i}" for i in range(3000)}
    backend.send(sorted(bodies))

    def receive_until_empty() -> list[str]:
        received = []
        while chunk := backend.receive(7, visibility_timeout=300):
            received.extend(message.body for message in chunk)
        return received

    results, errors = run_concurrently(*[receive_until_empty] * 8)

    assert errors == [None] * 8
    received = [body for result in results for body in result]
    assert len(received) == len(set(received)), "a message was received twice"
    assert set(received) == bodies
    assert sum(1 for result in results if result) >= 2, "receivers must have overlapped"
    assert backend.depth() == QueueDepth(visible=0, in_flight=3000, delayed=0)
