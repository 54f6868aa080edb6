"""The sender: receive a chunk, deliver it, record each outcome as it comes.

Per chunk: one receive; one ``UPDATE … RETURNING`` that takes the leases and
reads what delivering needs of the logs, as tuples (a second look only for
the envelopes it did not lease: ``sender_intake``), committed with the
receive on the embedded queue; one read of the chunk's
batches; then the channel sends (over a thread pool for slow channels), a
window of ``SENDER_CONCURRENCY`` at a time, or the whole chunk for a channel
that sends in-process (``log``), each window's attempt rows, status changes,
hourly counts and (on the embedded queue) ack written in one transaction as
soon as it finishes (``sender_record``). Never a query per message.

Guarantees: a log not ``pending`` is acked and skipped (de-duplication); a
lease on the log stops two copies of one envelope from being sent at once,
and the lease keeper renews it and the queue visibility while the chunk runs,
so a slow provider never lets another worker take over live work; a send the
channel reported as done is recorded whatever happened to the lease; a crash
repeats at most one window of sends (``services/delivery.py``); the queue
message is acked only once its outcome is committed; a message received more
than ``QUEUE_MAX_RECEIVES`` times goes to the DLQ; a database or queue outage
is waited out, never a reason to exit.
"""

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retry_admin.models import Batch, MessageLog, Template
from retry_admin.models.analyze import analyze_if_stale
from retry_admin.models.rawsql import in_list
from retry_admin.outage import DATABASE_DOWN, Outage, reset_database_connection
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.services.delivery import BatchInfo, deliver
from retry_admin.services.health import heartbeat
from retry_admin.services.keeper import LeaseKeeper
from retry_admin.services.sender_intake import TOO_MANY_RECEIVES, Intake, chunk_sort
from retry_admin.services.sender_record import group_record_and_ack
from retry_admin.services.transitions import messages_dead_letter


@dataclass
class SendReport:
    received: int = 0
    sent: int = 0
    failed: int = 0
    permanently_failed: int = 0
    dead_lettered: int = 0
    skipped: int = 0
    deferred: int = 0
    chunks: int = 0

    def add(self, other: "SendReport") -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


_BATCHES = (  # raw: the ORM spent longer building this query than running it
    f"SELECT b.id, b.channel, t.name, t.body FROM {Batch._meta.db_table} b"
    f" LEFT JOIN {Template._meta.db_table} t ON t.id = b.template_id WHERE {{where}}"
)


def _never() -> bool:
    return False


# A chunk


def sender_process_chunk(
    *,
    backend: QueueBackend | None = None,
    max_messages: int | None = None,
    should_stop: Callable[[], bool] = _never,
) -> SendReport:
    """Receive up to ``max_messages`` (``SENDER_BATCH_SIZE``) and deliver them."""
    backend = backend or get_backend()
    report = SendReport()
    visibility = settings.QUEUE_VISIBILITY_TIMEOUT
    # Taken before the receive, so a lease always ends before its message
    # becomes visible again.
    lease_until = timezone.now() + timedelta(seconds=visibility)
    wanted = max_messages or settings.SENDER_BATCH_SIZE
    # On the embedded queue the claim and the lease commit together: one
    # commit (on PostgreSQL one WAL flush) less per chunk, and a lease that
    # fails gives the chunk back to the queue at once.
    with transaction.atomic() if backend.transactional else nullcontext():
        received = backend.receive(wanted, visibility_timeout=visibility)
        if not received:
            return report
        intake = chunk_sort(received, lease_until=lease_until)
    if len(received) >= min(wanted, backend.max_receive):
        analyze_if_stale(MessageLog)  # a backlog: the next leases plan on fresh statistics
    report.received = len(received)
    report.chunks = 1
    report.skipped = intake.skipped
    _set_aside(backend, intake, report, visibility=visibility)

    deliveries = intake.deliveries
    batches = _batches({d.batch_id for d in deliveries})
    held = {d.handle: d.pk for d in deliveries}
    token = intake.lease_token
    with LeaseKeeper(backend, visibility=visibility, token=token, held=held) as keeper:
        for group in deliver(
            deliveries,
            batches,
            window=settings.SENDER_CONCURRENCY,
            inline_window=settings.SENDER_BATCH_SIZE,
        ):
            counts = group_record_and_ack(backend, keeper, group, token, should_stop)
            for name, value in counts.items():
                setattr(report, name, getattr(report, name) + value)
    return report


def _set_aside(
    backend: QueueBackend, intake: Intake, report: SendReport, *, visibility: int
) -> None:
    """Dead-letter, ack and defer what the chunk will not deliver."""
    if intake.poison:
        with transaction.atomic():
            if intake.too_many:
                messages_dead_letter(
                    message_ids=list(intake.too_many),
                    reason=TOO_MANY_RECEIVES.format(limit=settings.QUEUE_MAX_RECEIVES),
                    actor="sender",
                    receive_counts=intake.too_many,
                )
            if backend.transactional:  # the queue rows move in the same transaction
                _dead_letter_on_queue(backend, intake.poison)
        if not backend.transactional:
            _dead_letter_on_queue(backend, intake.poison)
        report.dead_lettered += len(intake.too_many)
    if intake.to_ack:
        backend.ack(intake.to_ack)
    if intake.deferred:
        backend.release(intake.deferred, delay_seconds=visibility)
        report.deferred = len(intake.deferred)


def _dead_letter_on_queue(backend: QueueBackend, poison: dict[str, str]) -> None:
    by_reason: dict[str, list[str]] = {}
    for handle, reason in poison.items():
        by_reason.setdefault(reason, []).append(handle)
    for reason, handles in by_reason.items():
        backend.dead_letter(handles, reason=reason)


def _batches(ids: set[int | None]) -> dict[int, BatchInfo]:
    """The chunk's batches (mostly one) with their template, in one query."""
    ids.discard(None)
    if not ids:
        return {}
    where, params = in_list("b.id", list(ids))
    with connection.cursor() as cursor:
        cursor.execute(_BATCHES.format(where=where), params)
        return {pk: BatchInfo(*rest) for pk, *rest in cursor.fetchall()}


# Loops


def sender_drain(
    *,
    seconds: float | None = None,
    until_empty: bool = False,
    poll_seconds: float | None = None,
    should_stop: Callable[[], bool] = _never,
) -> SendReport:
    """Deliver chunks until ``seconds`` pass (``None``: forever), or, with
    ``until_empty``, until nothing is visible on the queue. Polls every
    ``SENDER_POLL_SECONDS`` while the queue is empty. Waits out a database
    or queue outage with backoff, logging when it starts and ends; only
    ``until_empty`` gives up on an unavailable queue (it has nothing to wait
    for)."""
    poll = settings.SENDER_POLL_SECONDS if poll_seconds is None else poll_seconds
    deadline = None if seconds is None else time.monotonic() + seconds
    total = SendReport()
    database, queue = Outage("The database"), Outage("The queue")
    last_beat = 0.0
    while not should_stop():
        pause = 0.0
        try:
            if time.monotonic() - last_beat >= 5:
                heartbeat("sender", received=total.received, sent=total.sent)
                last_beat = time.monotonic()
            report = sender_process_chunk(should_stop=should_stop)
            database.recovered()
            queue.recovered()
        except QueueError as exc:
            if until_empty:
                raise
            report, pause = SendReport(), max(poll, queue.failed(exc))
        except DATABASE_DOWN as exc:
            reset_database_connection()
            report, pause = SendReport(), database.failed(exc)
        total.add(report)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if report.received == 0 and not pause:
            if until_empty:
                break
            pause = poll
        if deadline is not None:
            pause = min(pause, max(0.0, deadline - time.monotonic()))
        _sleep(pause, should_stop)
    try:
        heartbeat("sender", received=total.received, sent=total.sent)
    except DATABASE_DOWN:
        reset_database_connection()
    return total


def _sleep(seconds: float, should_stop: Callable[[], bool]) -> None:
    """Sleep, waking every 0.2 s to see whether the process should stop."""
    end = time.monotonic() + seconds
    while not should_stop() and (left := end - time.monotonic()) > 0:
        time.sleep(min(left, 0.2))
