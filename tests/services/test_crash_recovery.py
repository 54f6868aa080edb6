"""A sender killed mid-chunk loses nothing and records nothing twice.

A real ``manage.py run_sender`` process works on the test database and is
killed with SIGKILL while a chunk is in the channel. Outcomes are committed
(and acked) as each window of ``SENDER_CONCURRENCY`` sends completes, so only
the rest of the chunk is left: its queue rows come back after the visibility
timeout and its leases expire with them. Only the message at the channel at
the kill may be delivered again (with its message id as the idempotency key),
and only one attempt is ever recorded.
"""

import os
import subprocess
import sys
import time
from collections.abc import Callable

import pytest
from django.conf import settings as django_settings
from django.db.models import Count
from django.utils import timezone

from retry_admin.envelope import decode
from retry_admin.models import DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.services.sender import sender_drain
from tests.processes import shared_database_url

pytestmark = pytest.mark.django_db(transaction=True)

MESSAGES = 30
CHUNK = 5
LATENCY_MS = 200
VISIBILITY = 2


@pytest.fixture
def sender_process(tmp_path):
    """Start ``manage.py run_sender`` on the test database; killed at teardown
    if the test has not killed it."""
    log_path = tmp_path / "run_sender.log"
    processes: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": shared_database_url(),
            "RETRY_ADMIN_VAR_DIR": str(django_settings.VAR_DIR),
            "QUEUE_NAME": django_settings.QUEUE_NAME,
            "QUEUE_VISIBILITY_TIMEOUT": str(VISIBILITY),
            "SENDER_BATCH_SIZE": str(CHUNK),
            "SENDER_CONCURRENCY": "1",
            "SENDER_POLL_SECONDS": "0.1",
            "SIMULATED_LATENCY_MS": str(LATENCY_MS),
            "SIMULATED_TRANSIENT_RATE": "0",
            "SIMULATED_PERMANENT_RATE": "0",
        }
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", "run_sender"],
                cwd=django_settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        processes.append(process)
        return process

    start.log_path = log_path
    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, log_path) -> None:
    deadline = time.monotonic() + 15
    while not condition():
        if process.poll() is not None:
            pytest.fail(f"run_sender exited early:\n{log_path.read_text()}")
        if time.monotonic() > deadline:
            pytest.fail(f"run_sender made no progress:\n{log_path.read_text()}")
        time.sleep(0.02)


def sent_count() -> int:
    return MessageLog.objects.filter(status=Status.SENT).count()


def test_it_loses_nothing_and_records_nothing_twice_when_a_sender_is_killed(
    make_batch, sender_process, settings
):
    settings.QUEUE_VISIBILITY_TIMEOUT = VISIBILITY
    settings.SIMULATED_TRANSIENT_RATE = 0
    settings.SIMULATED_PERMANENT_RATE = 0
    make_batch(MESSAGES, channel="simulated")

    process = sender_process()
    wait_for(lambda: sent_count() >= CHUNK, process, sender_process.log_path)
    # The next chunk is now in the channel (CHUNK x LATENCY_MS): kill it there.
    time.sleep(LATENCY_MS * 1.5 / 1000)
    process.kill()
    process.wait(timeout=10)

    sent_before = sent_count()
    assert 0 < sent_before < MESSAGES
    in_flight = list(
        QueueMessage.objects.filter(receipt__isnull=False, visible_at__gt=timezone.now())
    )
    stranded = {decode(row.body).message_id for row in in_flight}
    # Outcomes are committed (and acked) a window of SENDER_CONCURRENCY=1 at a
    # time: only the rest of the chunk is left, not the whole of it.
    assert 0 < len(stranded) < CHUNK
    stranded_logs = MessageLog.objects.filter(id__in=stranded)
    assert set(stranded_logs.values_list("status", flat=True)) == {Status.PENDING}
    assert not DeliveryAttempt.objects.filter(message__in=stranded).exists()

    # Another sender delivers what is visible, but not the killed chunk yet.
    before_timeout = sender_drain(until_empty=True)
    assert before_timeout.sent == MESSAGES - sent_before - len(stranded)
    assert set(stranded_logs.values_list("status", flat=True)) == {Status.PENDING}

    # Once the visibility timeout (and with it the dead sender's lease) has
    # passed, the killed chunk is delivered again.
    last_visible = max(row.visible_at for row in in_flight)
    time.sleep(max(0.0, (last_visible - timezone.now()).total_seconds()) + 0.2)
    after_timeout = sender_drain(until_empty=True)

    assert after_timeout.sent == len(stranded)
    assert MessageLog.objects.filter(status=Status.SENT).count() == MESSAGES
    assert set(stranded_logs.values_list("receive_count", flat=True)) == {2}
    attempts = DeliveryAttempt.objects.values("message").annotate(n=Count("id"))
    assert len(attempts) == MESSAGES
    assert {row["n"] for row in attempts} == {1}
    assert set(DeliveryAttempt.objects.values_list("outcome", flat=True)) == {"sent"}
    assert QueueMessage.objects.count() == 0
