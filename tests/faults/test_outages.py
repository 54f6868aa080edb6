"""Database and queue outages in the middle of a drain, through real processes.

The sender waits an outage out (no exit), loses nothing and records nothing
twice; ``/healthz`` names what is down while it is down, and recovers.
"""

import sqlite3
import time

import pytest
from django.db import connection
from django.db.models import Count

from retry_admin.models import DeliveryAttempt, MessageLog, Status
from retry_admin.queues import get_backend, reset_backends
from tests.emulators import TcpProxy, moto_endpoint  # noqa: F401 (fixture)
from tests.processes import Workers, shared_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 600
SENDER = {
    "QUEUE_VISIBILITY_TIMEOUT": "2",
    "SENDER_BATCH_SIZE": "20",
    "SENDER_CONCURRENCY": "1",
    "SIMULATED_LATENCY_MS": "5",
    "SIMULATED_TRANSIENT_RATE": "0",
    "SIMULATED_PERMANENT_RATE": "0",
}


def sent() -> int:
    return MessageLog.objects.filter(status=Status.SENT).count()


def assert_each_recorded_once(total: int) -> None:
    assert MessageLog.objects.filter(status=Status.SENT).count() == total
    attempts = DeliveryAttempt.objects.values("message").annotate(n=Count("id"))
    assert len(attempts) == total
    assert {row["n"] for row in attempts} == {1}


def outage_logged(workers: Workers, what: str) -> bool:
    text = workers.full_output()
    return f"{what} is unavailable" in text and f"{what} is back after" in text


@pytest.mark.postgres
def test_the_sender_waits_out_a_database_outage(make_batch, workers, client):
    make_batch(MESSAGES, channel="simulated")
    proxy = TcpProxy(connection.settings_dict["PORT"] or 5432)
    try:
        sender = workers.start(
            "run_sender", DATABASE_URL=shared_database_url(port=proxy.port), **SENDER
        )
        wait_until(lambda: sent() > 50, seconds=30, what="sending to start", workers=workers)
        proxy.cut()
        health = workers.start(
            "shell",
            "-c",
            "from retry_admin.services.health import health_check; "
            "import json; print(json.dumps(health_check()['checks']['database']))",
            DATABASE_URL=shared_database_url(port=proxy.port),
        )
        health.wait(timeout=30)
        during = sent()
        time.sleep(4)
        assert sent() == during, "nothing can be recorded while the database is away"
        assert sender.poll() is None, workers.output()
        proxy.restore()
        wait_until(lambda: sent() == MESSAGES, seconds=60, what="the drain", workers=workers)
    finally:
        proxy.cut()
    assert sender.poll() is None, "the sender must outlive the outage"
    assert '"ok": false' in health.log_path.read_text()
    assert outage_logged(workers, "The database")
    assert_each_recorded_once(MESSAGES)


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_the_sender_waits_out_a_locked_sqlite_database(make_batch, workers):
    """On SQLite, the database being unavailable to writers means another
    process holding it locked for longer than the busy timeout."""
    make_batch(MESSAGES, channel="simulated")
    sender = workers.start("run_sender", DATABASE_BUSY_TIMEOUT_SECONDS="0.5", **SENDER)
    wait_until(lambda: sent() > 50, seconds=30, what="sending to start", workers=workers)

    locker = sqlite3.connect(connection.settings_dict["NAME"], timeout=20)
    locker.execute("BEGIN EXCLUSIVE")
    time.sleep(4)
    locker.rollback()
    locker.close()

    wait_until(lambda: sent() == MESSAGES, seconds=60, what="the drain", workers=workers)
    assert sender.poll() is None, "the sender must outlive the outage"
    assert outage_logged(workers, "The database")
    assert_each_recorded_once(MESSAGES)


def test_the_sender_waits_out_a_queue_outage(make_batch, workers, settings, client, request):
    endpoint = request.getfixturevalue("moto_endpoint")
    port = int(endpoint.rsplit(":", 1)[1])
    proxy = TcpProxy(port)
    queue = f"outage-{time.monotonic_ns()}"
    settings.QUEUE_BACKEND, settings.QUEUE_NAME = "sqs", queue
    settings.AWS_ENDPOINT_URL, settings.AWS_REGION = endpoint, "us-east-1"
    settings.SQS_QUEUE_URL = f"{endpoint}/123456789012/{queue}"
    settings.SQS_DLQ_URL = f"{endpoint}/123456789012/{queue}-dlq"
    settings.SQS_WAIT_SECONDS = 0
    reset_backends()
    get_backend().ensure()
    total = 60
    make_batch(total, channel="simulated")
    through_proxy = {
        "QUEUE_BACKEND": "sqs",
        "QUEUE_NAME": queue,
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
        "AWS_REGION": "us-east-1",
        "SQS_QUEUE_URL": f"http://127.0.0.1:{proxy.port}/123456789012/{queue}",
        "SQS_DLQ_URL": f"http://127.0.0.1:{proxy.port}/123456789012/{queue}-dlq",
        "SQS_WAIT_SECONDS": "0",
        **SENDER,
        "SENDER_BATCH_SIZE": "5",
        "SIMULATED_LATENCY_MS": "50",
    }
    try:
        sender = workers.start("run_sender", **through_proxy)
        wait_until(lambda: sent() >= 5, seconds=30, what="sending to start", workers=workers)
        proxy.cut()
        settings.AWS_ENDPOINT_URL = through_proxy["AWS_ENDPOINT_URL"]
        settings.SQS_QUEUE_URL = through_proxy["SQS_QUEUE_URL"]
        settings.SQS_DLQ_URL = through_proxy["SQS_DLQ_URL"]
        reset_backends()
        down = client.get("/healthz").json()
        time.sleep(3)
        assert sender.poll() is None, workers.output()
        proxy.restore()
        wait_until(lambda: sent() == total, seconds=90, what="the drain", workers=workers)
        up = client.get("/healthz").json()
    finally:
        proxy.cut()
        reset_backends()
    assert down["checks"]["queue"]["ok"] is False
    assert up["checks"]["queue"]["ok"] is True
    assert sender.poll() is None
    assert outage_logged(workers, "The queue")
    assert_each_recorded_once(total)
