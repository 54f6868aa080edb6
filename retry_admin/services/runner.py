"""The long-running sender (``manage.py run_sender``): delivers as soon as
messages are enqueued, instead of once a minute.

It loops over ``sender_drain``: drain what is visible in slices of
``SLICE_SECONDS`` (so its heartbeat stays fresh through a long backlog), then
wait for work, woken

* on the ``db`` queue: at commit of the enqueue by ``LISTEN``/``NOTIFY`` on
  PostgreSQL, by a cheap indexed read every ``SENDER_IDLE_POLL_SECONDS`` on
  SQLite (queues/wake.py); either way it also looks every
  ``SENDER_POLL_SECONDS`` (at most ``BEAT_SECONDS``) for messages that became
  visible without a notification (a delayed release, a killed sender's
  messages after their visibility timeout);
* on SQS: by the receive itself, which long-polls (``SQS_WAIT_SECONDS``);
* on the other transports: by a receive every ``SENDER_POLL_SECONDS``.

Its heartbeat row ``sender-runner`` says what it is doing (``idle``,
``working``, ``stopped``): the batch page and ``/healthz`` read it, and the
minute schedule (tasks.send_queued_messages) stands aside while it is fresh.
A stop request (SIGTERM) lets the chunk in hand finish, its outcomes
committed and acked, then the loop ends.
"""

import logging
import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from retry_admin.models import Heartbeat
from retry_admin.outage import DATABASE_DOWN, Outage, reset_database_connection
from retry_admin.queues import QueueError, get_backend
from retry_admin.queues.wake import QueueWaiter
from retry_admin.services.health import RUNNER_BEAT, heartbeat
from retry_admin.services.sender import SendReport, sender_drain

logger = logging.getLogger(__name__)

BEAT_SECONDS = 5.0
SLICE_SECONDS = 5.0
# The minute schedule stands aside while a runner beat within this long.
RUNNER_ALIVE_SECONDS = 30


def _never() -> bool:
    return False


def sender_runner_alive() -> bool:
    """Whether a long-running sender beat recently and has not stopped."""
    beat = Heartbeat.objects.filter(name=RUNNER_BEAT).first()
    if beat is None or beat.details.get("state") == "stopped":
        return False
    return timezone.now() - beat.beat_at <= timedelta(seconds=RUNNER_ALIVE_SECONDS)


def wake_mode(backend_name: str) -> str:
    """How an idle sender learns of new work on this transport and database."""
    from django.db import connection

    if backend_name == "db":
        return "notify" if connection.vendor == "postgresql" else "poll"
    # SQS_WAIT_SECONDS=0 turns long polling off: then poll, never spin.
    return "long-poll" if backend_name == "sqs" and settings.SQS_WAIT_SECONDS > 0 else "poll"


class _Runner:
    def __init__(self, should_stop: Callable[[], bool]) -> None:
        self.should_stop = should_stop
        self.backend = get_backend()
        self.mode = wake_mode(self.backend.name)
        self.waiter = (
            QueueWaiter(settings.QUEUE_NAME, poll_seconds=settings.SENDER_IDLE_POLL_SECONDS)
            if self.backend.name == "db"
            else None
        )
        self.total = SendReport()
        self.started_at = timezone.now().isoformat()
        self.state = ""
        self.beat_at = 0.0
        self.database = Outage("The database")
        self.queue = Outage("The queue")

    def beat(self, state: str, *, force: bool = False) -> None:
        if not force and state == self.state and time.monotonic() - self.beat_at < BEAT_SECONDS:
            return
        heartbeat(
            RUNNER_BEAT,
            state=state,
            wakes_on=self.mode,
            pid=os.getpid(),
            host=socket.gethostname(),
            started_at=self.started_at,
            received=self.total.received,
            sent=self.total.sent,
        )
        self.state, self.beat_at = state, time.monotonic()

    def drain(self) -> SendReport:
        self.beat("working")
        return sender_drain(seconds=SLICE_SECONDS, until_empty=True, should_stop=self.should_stop)

    def wait(self) -> bool:
        """Idle until there may be work; True if there may be."""
        self.beat("idle")
        if self.waiter is not None:
            # Each wait starts with a look at the queue: messages whose
            # visibility timeout ran out (a killed sender's) send no NOTIFY.
            recheck = min(BEAT_SECONDS, settings.SENDER_POLL_SECONDS)
            return self.waiter.wait(recheck, should_stop=self.should_stop)
        if self.mode == "long-poll":
            return True  # the next receive waits on the queue itself
        _sleep(settings.SENDER_POLL_SECONDS, self.should_stop)
        return True

    def run(self, deadline: float | None) -> SendReport:
        work = True  # look once at start: messages may have queued while it was down
        while not self.should_stop() and (deadline is None or time.monotonic() < deadline):
            pause = 0.0
            try:
                if work:
                    report = self.drain()
                    self.total.add(report)
                    work = report.received > 0
                else:
                    work = self.wait()
                self.database.recovered()
                self.queue.recovered()
            except QueueError as exc:  # sender_drain(until_empty) gives queue outages back
                pause, work = self.queue.failed(exc), True
            except DATABASE_DOWN as exc:
                reset_database_connection()
                pause, work = self.database.failed(exc), True
            if pause:
                _sleep(pause, self.should_stop)
        return self.total

    def close(self) -> None:
        if self.waiter is not None:
            self.waiter.close()
        try:
            self.beat("stopped", force=True)
        except DATABASE_DOWN:
            reset_database_connection()


def sender_run(
    *, seconds: float | None = None, should_stop: Callable[[], bool] = _never
) -> SendReport:
    """Deliver continuously until ``should_stop`` says so (or ``seconds``
    pass), waking on enqueue; see the module docstring."""
    runner = _Runner(should_stop)
    deadline = None if seconds is None else time.monotonic() + seconds
    logger.info("Sender started (wakes on %s, %s)", runner.mode, runner.backend.describe())
    try:
        return runner.run(deadline)
    finally:
        runner.close()
        logger.info("Sender stopped: received=%d sent=%d", runner.total.received, runner.total.sent)


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    end = time.monotonic() + seconds
    while not should_stop() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.2))
