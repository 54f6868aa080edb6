"""What is RabbitMQ's own: the seed's retry design (reject → dead-letter
exchange → retry processor → delayed republish → parked), an existing
topology, and a sender killed mid-chunk. The contract and end-to-end suites
cover the rest on this backend."""

import itertools
import time

import pytest

from retry_admin.models import DeliveryAttempt, MessageLog, Status
from retry_admin.queues import get_backend, reset_backends
from retry_admin.services.sender import sender_drain
from tests.emulators import rabbitmq_drop, rabbitmq_url  # noqa: F401 (fixture)
from tests.processes import Workers, wait_until
from tests.queues.conftest import point_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rabbit(request, settings):
    point_at(settings, request, "rabbitmq")
    backend = get_backend()
    backend.ensure()
    yield backend
    rabbitmq_drop(backend)
    reset_backends()


def raw_channel(url: str):
    import pika

    return pika.BlockingConnection(pika.URLParameters(url)).channel()


def test_a_message_rejected_every_time_comes_back_with_growing_gaps_then_parks(rabbit, settings):
    settings.QUEUE_MAX_RECEIVES = 3
    settings.RETRY_BACKOFF = "exponential"
    settings.RABBITMQ_RETRY_DELAY_SECONDS = 0.3
    rabbit.send(["poison"])
    consumer = raw_channel(rabbit.url)  # a consumer that fails it every time
    deliveries: list[float] = []
    deadline = time.monotonic() + 20
    while rabbit.dlq_depth() == 0 and time.monotonic() < deadline:
        method, _, body = consumer.basic_get(rabbit.queue_name)
        if method is not None:
            assert body == b"poison"
            deliveries.append(time.monotonic())
            consumer.basic_reject(method.delivery_tag, requeue=False)  # never a hot requeue
        rabbit.process_retries()
        time.sleep(0.02)
    consumer.connection.close()

    gaps = [round(b - a, 2) for a, b in itertools.pairwise(deliveries)]
    print(f"\nrabbitmq rejected every time: deliveries={len(deliveries)} gaps={gaps} s")
    assert len(deliveries) == settings.QUEUE_MAX_RECEIVES + 1
    # 0.3 s, 0.6 s, 1.2 s of backoff (plus polling), each longer than the last
    assert gaps[0] >= 0.3 and all(b > a * 1.5 for a, b in itertools.pairwise(gaps))
    [parked] = rabbit.dlq_peek()
    assert parked.body == "poison"
    assert parked.reason == "reached max retries of 3"
    assert parked.details["x-retries"] == "4"
    assert "rejected" in parked.details["x-death"]
    assert parked.details["routing key"] == rabbit.routing_key
    assert rabbit.depth().total == 0


def test_it_sits_on_an_existing_topology_of_the_seed_shape(request, settings):
    point_at(settings, request, "rabbitmq")
    suffix = settings.QUEUE_NAME
    settings.QUEUE_NAME = f"jobs-{suffix}"
    settings.RABBITMQ_EXCHANGE = f"main-{suffix}"
    settings.RABBITMQ_ROUTING_KEY = "jobs.send"
    settings.RABBITMQ_BINDING_KEY = "jobs.*"
    settings.RABBITMQ_RETRY_EXCHANGE = f"retry-{suffix}"
    settings.RABBITMQ_RETRY_QUEUE = f"retry-{suffix}"
    reset_backends()
    backend = get_backend()
    try:
        backend.ensure()
        backend.send(["a"])
        [message] = backend.receive(10, visibility_timeout=30)
        backend.release([message.handle])  # through retry-<suffix> and back to jobs.*
        [again] = backend.receive(10, visibility_timeout=30)
        assert (again.body, again.receive_count) == ("a", 2)
        backend.ack([again.handle])
        assert backend.depth().total == 0
    finally:
        rabbitmq_drop(backend)
        reset_backends()


def test_a_sender_killed_mid_chunk_loses_nothing(rabbit, make_batch, settings, tmp_path):
    settings.QUEUE_VISIBILITY_TIMEOUT = 2
    settings.SIMULATED_TRANSIENT_RATE = settings.SIMULATED_PERMANENT_RATE = 0
    make_batch(30, channel="simulated")
    workers = Workers(
        tmp_path,
        env={
            "QUEUE_BACKEND": "rabbitmq",
            "QUEUE_NAME": settings.QUEUE_NAME,
            "RABBITMQ_URL": rabbit.url,
            "RABBITMQ_EXCHANGE": rabbit.exchange,
            "QUEUE_VISIBILITY_TIMEOUT": "2",
            "SENDER_BATCH_SIZE": "5",
            "SENDER_CONCURRENCY": "1",
            "SENDER_POLL_SECONDS": "0.1",
            "SIMULATED_LATENCY_MS": "100",
            "SIMULATED_TRANSIENT_RATE": "0",
            "SIMULATED_PERMANENT_RATE": "0",
        },
    )
    try:
        sender = workers.start("run_sender")
        sent = MessageLog.objects.filter(status=Status.SENT)
        wait_until(lambda: sent.count() >= 5, seconds=30, what="sending", workers=workers)
        sender.kill()  # its unacked messages go back to the queue with the connection
        sender.wait(timeout=10)
        assert sent.count() < 30
    finally:
        workers.stop_all()

    # Its messages came back at once; their logs' leases (the visibility
    # timeout, 2 s here) keep them from a second sender until they expire.
    settings.SIMULATED_LATENCY_MS = 0
    wait_until(
        lambda: sender_drain(until_empty=True) and sent.count() == 30,
        seconds=30,
        what="the rest to be sent",
    )

    attempts = DeliveryAttempt.objects.filter(outcome=DeliveryAttempt.Outcome.SENT)
    assert attempts.count() == 30  # nothing recorded twice
    assert rabbit.depth().total == 0


def test_the_dlq_page_and_api_show_rabbitmqs_own_evidence(rabbit, settings, client, super_admin):
    settings.QUEUE_MAX_RECEIVES = 1
    settings.RABBITMQ_RETRY_DELAY_SECONDS = 0.1
    rabbit.send(["not an envelope"])
    consumer = raw_channel(rabbit.url)
    deadline = time.monotonic() + 10
    while rabbit.dlq_depth() == 0 and time.monotonic() < deadline:
        method, _, _ = consumer.basic_get(rabbit.queue_name)
        if method is not None:
            consumer.basic_reject(method.delivery_tag, requeue=False)
        rabbit.process_retries()
        time.sleep(0.05)
    consumer.connection.close()
    client.force_login(super_admin)

    page = client.get("/dlq/").content.decode()
    api = client.get("/api/dlq/").json()["results"]

    assert "x-death" in page and "rejected 2 times" in page and "x-retries" in page
    assert api[0]["reason"] == "reached max retries of 1"
    assert api[0]["details"]["x-retries"] == "2"
    assert "rejected" in api[0]["details"]["x-death"]


def test_the_lease_keeper_thread_extends_without_a_consumer_of_its_own(rabbit):
    """The sender's lease keeper calls ``extend`` from its own thread: that
    must move the deadlines the sender's thread keeps, and must not open a
    consumer there that would prefetch (and strand) the next messages."""
    import threading

    rabbit.send(["a", "b"])
    received = rabbit.receive(10, visibility_timeout=1)
    kept = {}
    thread = threading.Thread(
        target=lambda: kept.update(
            rabbit.extend([m.handle for m in received], visibility_timeout=30)
        )
    )
    thread.start()
    thread.join()
    assert set(kept) == {m.handle for m in received}
    time.sleep(1.2)  # past the first deadline: still held
    assert rabbit.receive(10, visibility_timeout=30) == []
    rabbit.ack([m.handle for m in received])

    rabbit.send(["c", "d"])
    time.sleep(0.2)
    assert sorted(m.body for m in rabbit.receive(10, visibility_timeout=30)) == ["c", "d"]


def test_depth_counts_what_the_broker_already_pushed_to_this_consumer(rabbit):
    rabbit.send(["first"])
    [first] = rabbit.receive(10, visibility_timeout=30)  # this thread now consumes
    rabbit.ack([first.handle])
    rabbit.send([f"m{i}" for i in range(20)])

    assert rabbit.depth().total == 20  # not only the ready ones RabbitMQ counts


def test_a_forgotten_backend_stops_consuming(rabbit):
    """``reset_backends`` closes what it forgets: its consumer would
    otherwise keep prefetching messages that no one will ever receive."""
    rabbit.send(["first"])
    [first] = rabbit.receive(10, visibility_timeout=30)
    rabbit.ack([first.handle])
    reset_backends()
    fresh = get_backend()
    fresh.send([f"m{i}" for i in range(20)])

    assert len(fresh.receive(50, visibility_timeout=30)) == 20
