"""What only the Redis transport does: a killed sender's chunk comes back,
the retry queue's delays and de-duplication, dead-lettering past the
maximum with the retry queue's evidence, stale handles, keys under the
prefix, and Redis errors that say what to fix. Against the local server."""

import itertools
import time
from collections.abc import Callable
from datetime import datetime

import pytest
from django.db.models import Count

from retry_admin.envelope import decode
from retry_admin.models import DeliveryAttempt, MessageLog, Status
from retry_admin.queues import QueueError, get_backend, reset_backends
from retry_admin.queues.base import QueueDepth, SendResult
from retry_admin.queues.redis.queue import KEY_NAMES
from retry_admin.services.sender import sender_drain, sender_process_chunk
from tests.emulators import free_port

MESSAGES = 30
CHUNK = 5
LATENCY_MS = 200
# How long the killed chunk stays invisible: the test drains everything else
# within it, which took over 2 s on a loaded 2-core machine.
VISIBILITY = 5


def poll(take: Callable, *, seconds: float = 15, what: str):
    """Call ``take`` every 10 ms until it returns something truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if got := take():
            return got
        time.sleep(0.01)
    pytest.fail(f"timed out after {seconds} s waiting for {what}")


def in_flight_ids(backend) -> set:
    """The message ids of the entries in flight, read from Redis itself."""
    client = backend._client()
    entries = client.zrange(backend.prefix + "inflight", 0, -1)
    bodies = client.hmget(backend.prefix + "body", entries) if entries else []
    return {decode(body).message_id for body in bodies}


@pytest.mark.django_db(transaction=True)
def test_a_sender_killed_with_sigkill_mid_chunk_loses_nothing(
    redis_queue, workers, make_batch, settings
):
    settings.QUEUE_VISIBILITY_TIMEOUT = VISIBILITY
    settings.SIMULATED_TRANSIENT_RATE = 0
    settings.SIMULATED_PERMANENT_RATE = 0
    make_batch(MESSAGES, channel="simulated")
    sender = workers.start(
        "run_sender",
        QUEUE_BACKEND="redis",
        REDIS_URL=settings.REDIS_URL,
        REDIS_KEY_PREFIX=settings.REDIS_KEY_PREFIX,
        QUEUE_VISIBILITY_TIMEOUT=str(VISIBILITY),
        SENDER_BATCH_SIZE=str(CHUNK),
        SENDER_CONCURRENCY="1",
        SIMULATED_LATENCY_MS=str(LATENCY_MS),
        SIMULATED_TRANSIENT_RATE="0",
        SIMULATED_PERMANENT_RATE="0",
    )
    sent = MessageLog.objects.filter(status=Status.SENT)
    poll(lambda: sent.count() >= CHUNK or sender.poll() is not None, what="a first chunk")
    assert sender.poll() is None, workers.output()
    time.sleep(LATENCY_MS * 1.5 / 1000)  # the next chunk is at the channel: kill it there
    sender.kill()
    sender.wait(timeout=10)

    stranded = in_flight_ids(redis_queue)
    assert 0 < len(stranded) <= CHUNK
    assert set(MessageLog.objects.filter(id__in=stranded).values_list("status", flat=True)) == {
        Status.PENDING
    }
    # Another sender delivers what is visible but not the killed chunk, until
    # its visibility timeout has passed; then that too.
    sender_drain(until_empty=True)
    assert MessageLog.objects.filter(id__in=stranded, status=Status.PENDING).count() == len(
        stranded
    )
    time.sleep(VISIBILITY + 0.2)
    assert sender_drain(until_empty=True).sent == len(stranded)

    assert sent.count() == MESSAGES
    attempts = DeliveryAttempt.objects.values("message").annotate(n=Count("id"))
    assert len(attempts) == MESSAGES and {row["n"] for row in attempts} == {1}
    assert set(
        MessageLog.objects.filter(id__in=stranded).values_list("receive_count", flat=True)
    ) == {2}
    assert redis_queue.depth().total == 0


@pytest.mark.django_db
def test_a_message_released_every_time_is_delivered_max_plus_one_times_with_growing_gaps(
    redis_queue, make_batch, settings
):
    settings.QUEUE_MAX_RECEIVES = 3
    delays = [1, 2, 4]  # the backoff the releasing worker asks for
    make_batch(1)
    delivered_at: list[float] = []
    counts: list[int] = []
    for delay in delays:  # a worker that fails it every time and releases it
        [message] = poll(
            lambda: redis_queue.receive(10, visibility_timeout=30), what="a redelivery"
        )
        delivered_at.append(time.monotonic())
        counts.append(message.receive_count)
        redis_queue.release([message.handle], delay_seconds=delay)
    # The next receive is past QUEUE_MAX_RECEIVES: the sender dead-letters it.
    report = poll(
        lambda: (r := sender_process_chunk(backend=redis_queue)).received and r,
        what="the last delivery",
    )
    delivered_at.append(time.monotonic())

    gaps = [later - earlier for earlier, later in itertools.pairwise(delivered_at)]
    print(f"\nredis retry queue: delays {delays} s, measured gaps {[round(g, 3) for g in gaps]} s")
    assert counts == [1, 2, 3] and report.dead_lettered == 1
    assert len(delivered_at) == settings.QUEUE_MAX_RECEIVES + 1
    for gap, delay in zip(gaps, delays, strict=True):
        # Due times are milliseconds of Redis's clock, the gaps this process's
        # clock: one came out 1.99998 s for a 2 s delay.
        assert delay - 0.01 <= gap < delay + 0.5
    assert gaps == sorted(gaps)
    assert redis_queue.receive(10, visibility_timeout=30) == []
    assert redis_queue.depth().total == 0

    [entry] = redis_queue.dlq_peek()
    assert "QUEUE_MAX_RECEIVES=3" in entry.reason
    assert entry.receive_count == 4
    assert entry.details["receives"] == "4"
    assert entry.details["retry-queue entries"] == "3"
    last_due = datetime.fromisoformat(entry.details["last retry due"])
    assert 0 <= (entry.dead_at - last_due).total_seconds() < 0.5
    assert entry.details["reason"] == entry.reason
    assert MessageLog.objects.get().status == Status.DEAD_LETTERED


@pytest.mark.django_db
def test_a_message_published_twice_with_one_id_is_delivered_once(redis_queue, make_batch):
    make_batch(1)
    [message] = redis_queue.receive(10, visibility_timeout=30)
    redis_queue.release([message.handle], delay_seconds=1)  # onto the retry queue
    assert redis_queue.send([message.body], delay_seconds=1) == [SendResult(True)]  # again
    assert redis_queue.depth() == QueueDepth(visible=0, in_flight=0, delayed=1)
    time.sleep(1.2)
    report = sender_drain(until_empty=True)
    assert (report.received, report.sent, report.skipped) == (1, 1, 0)
    assert redis_queue.depth().total == 0


@pytest.mark.django_db
def test_the_retry_queue_knows_a_message_by_its_id_else_by_its_body(redis_queue):
    first = '{"message_id": "m-1", "attempt": 1}'
    second = '{"message_id":"m-1","attempt":2}'  # another envelope of the same message
    redis_queue.send([first, second, "plain", "plain", "other"], delay_seconds=1)
    assert redis_queue.depth().delayed == 3
    time.sleep(1.2)
    received = redis_queue.receive(10, visibility_timeout=30)
    assert sorted(m.body for m in received) == sorted([first, "other", "plain"])
    # Only while a copy waits: once it has left the retry queue, it may come again.
    redis_queue.send(["plain"], delay_seconds=1)
    assert redis_queue.depth().delayed == 1


@pytest.mark.django_db
def test_a_stale_handle_does_nothing_once_the_message_went_to_another_worker(redis_queue):
    redis_queue.send(["a"])
    [first] = redis_queue.receive(10, visibility_timeout=1)
    time.sleep(1.1)
    [second] = redis_queue.receive(10, visibility_timeout=30)
    assert second.receive_count == 2
    redis_queue.ack([first.handle])
    redis_queue.release([first.handle])
    redis_queue.dead_letter([first.handle], reason="stale")
    assert redis_queue.extend([first.handle], visibility_timeout=60) == {}
    assert redis_queue.depth() == QueueDepth(visible=0, in_flight=1, delayed=0)
    assert redis_queue.dlq_depth() == 0
    redis_queue.ack([second.handle])
    assert redis_queue.depth().total == 0
    with pytest.raises(QueueError, match="Not a receipt handle"):
        redis_queue.ack(["no-colon"])


@pytest.mark.django_db
def test_every_key_stays_under_the_prefix(redis_queue):
    client = redis_queue._client()
    before = set(client.scan_iter(count=1000))
    redis_queue.send(["a", "b", "c"])
    redis_queue.send(["later"], delay_seconds=60)
    received = {m.body: m for m in redis_queue.receive(10, visibility_timeout=30)}
    redis_queue.release([received["a"].handle], delay_seconds=60)
    redis_queue.dead_letter([received["b"].handle], reason="poison")
    redis_queue.extend([received["c"].handle], visibility_timeout=60)
    [entry] = redis_queue.dlq_peek()
    redis_queue.dlq_move([entry.id])
    redis_queue.ack([received["c"].handle])
    redis_queue.dlq_purge()
    redis_queue.depth()

    prefix = redis_queue.prefix
    assert prefix.startswith(f"{redis_queue_prefix_root(redis_queue)}:")
    new = set(client.scan_iter(count=1000)) - before
    ours = {key for key in new if key.startswith(prefix)}
    others = {key for key in new - ours if not key.startswith("t-redis-")}  # parallel runs
    assert others == set()
    assert {key.removeprefix(prefix) for key in ours} <= set(KEY_NAMES)


def redis_queue_prefix_root(backend) -> str:
    return backend.prefix.removesuffix(f":{backend.queue_name}:")


@pytest.mark.django_db
def test_an_unreachable_server_is_a_queue_error_that_says_so(redis_queue, settings):
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    reset_backends()
    backend = get_backend()
    for call in (backend.ensure, lambda: backend.send(["a"]), backend.depth):
        with pytest.raises(QueueError, match="is unreachable"):
            call()


@pytest.mark.django_db
def test_wrong_credentials_are_a_queue_error_that_never_shows_the_password(redis_queue, settings):
    settings.REDIS_URL = settings.REDIS_URL.replace("redis://", "redis://:s3cret-pw@")
    reset_backends()
    backend = get_backend()
    with pytest.raises(QueueError, match="credentials of REDIS_URL") as caught:
        backend.ensure()
    assert "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in backend.describe() and "***" in backend.describe()


@pytest.mark.django_db
def test_a_key_of_another_type_under_the_prefix_is_a_queue_error_that_says_so(redis_queue):
    redis_queue._client().set(redis_queue.prefix + "ready", "not a list")
    with pytest.raises(QueueError, match="is a string, not a list"):
        redis_queue.ensure()
    with pytest.raises(QueueError, match="set another REDIS_KEY_PREFIX"):
        redis_queue.receive(10, visibility_timeout=30)
