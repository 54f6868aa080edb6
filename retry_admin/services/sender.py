"""The sender: receive a chunk, deliver it, record each outcome as it comes.

Per chunk: one receive; one ``UPDATE … RETURNING`` that takes the leases and
reads what delivering needs of the logs, as tuples (a second look only for
the envelopes it did not lease); one read of the chunk's batches; then the
channel sends (over a thread pool for slow channels), a window of
``SENDER_CONCURRENCY`` at a time, or the whole chunk for a channel that sends
in-process (``log``), each window's attempt rows, status changes, hourly
counts and (on the embedded queue) ack written in one transaction as soon as
it finishes. Never a query per message.

Guarantees: a log not ``pending`` is acked and skipped (de-duplication); a
lease on the log stops two copies of one envelope from being sent at once,
and the lease keeper renews it and the queue visibility while the chunk runs,
so a slow provider never lets another worker take over live work; a send the
channel reported as done is recorded whatever happened to the lease; a crash
repeats at most one window of sends (``services/delivery.py``); the queue message is acked only once
its outcome is committed; a message received more than
``QUEUE_MAX_RECEIVES`` times goes to the DLQ; a database or queue outage is
waited out, never a reason to exit.
"""

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retry_admin.envelope import Envelope, InvalidEnvelope, decode
from retry_admin.models import Batch, DeliveryAttempt, MessageLog, Status
from retry_admin.models.analyze import analyze_if_stale
from retry_admin.models.rawsql import datetime_param, in_list, uuid_param
from retry_admin.outage import DATABASE_DOWN, Outage, outlast, reset_database_connection
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.queues.base import ReceivedMessage
from retry_admin.services.delivery import BatchInfo, Delivery, deliver
from retry_admin.services.health import heartbeat
from retry_admin.services.keeper import LeaseKeeper
from retry_admin.services.transitions import (
    Failure,
    messages_dead_letter,
    messages_record_outcomes,
)

logger = logging.getLogger(__name__)

Outcome = DeliveryAttempt.Outcome
_LOG = MessageLog._meta.db_table
_ATTEMPT = DeliveryAttempt._meta.db_table
TOO_MANY_RECEIVES = "Received more than QUEUE_MAX_RECEIVES={limit} times without an outcome"


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


def _never() -> bool:
    return False


# Receiving and sorting out a chunk


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
    received = backend.receive(wanted, visibility_timeout=visibility)
    if not received:
        return report
    if len(received) >= min(wanted, backend.max_receive):
        analyze_if_stale(MessageLog)  # a backlog: its leases plan on fresh statistics
    report.received = len(received)
    report.chunks = 1

    envelopes: dict[str, tuple[ReceivedMessage, Envelope]] = {}
    poison: dict[str, str] = {}  # handle -> reason it goes to the DLQ
    for item in received:
        try:
            envelope = decode(item.body)
        except InvalidEnvelope as exc:
            logger.error("Dead-lettering a queue body that is not our envelope: %s", exc)
            poison[item.handle] = f"Not a Retry Admin envelope: {exc}"
            continue
        envelopes[item.handle] = (item, envelope)

    # The lease is taken as the chunk's logs are read, in one statement; only
    # the envelopes it did not lease (already handled, dead-lettered, leased by
    # another worker, unknown, or received too often) need a second look.
    limit = settings.QUEUE_MAX_RECEIVES
    lease_token = uuid.uuid4()
    leased = _lease(
        [env.message_id for item, env in envelopes.values() if item.receive_count <= limit],
        lease_token,
        lease_until,
    )
    candidates: dict[uuid.UUID, Delivery] = {}
    to_ack: list[str] = []
    second_look: list[tuple[str, ReceivedMessage, uuid.UUID]] = []
    for handle, (item, envelope) in envelopes.items():
        pk = envelope.message_id
        row = leased.get(pk) if item.receive_count <= limit else None
        if row is None:
            second_look.append((handle, item, pk))
        elif pk in candidates:
            to_ack.append(handle)  # a second copy in this chunk: de-duplicated
            report.skipped += 1
        else:
            candidates[pk] = Delivery(pk, row[0], handle, item.receive_count, *row[1:])
    too_many: dict[uuid.UUID, int] = {}  # logs whose envelope goes to the DLQ -> receives
    deferred: list[str] = []
    if second_look:
        states = {
            pk: (status, last_error)
            for pk, status, last_error in MessageLog.objects.filter(
                id__in={pk for _, _, pk in second_look}
            ).values_list("id", "status", "last_error")
        }
        for handle, item, pk in second_look:
            status, last_error = states.get(pk, (None, ""))
            if status is None:
                logger.error("Dead-lettering envelope for unknown message id %s", pk)
                poison[handle] = f"No message log with id {pk}"
            elif item.receive_count > limit and status == Status.PENDING and pk not in candidates:
                poison[handle] = TOO_MANY_RECEIVES.format(limit=limit)
                too_many[pk] = item.receive_count
            elif status == Status.DEAD_LETTERED:
                # Marked dead before its copy reached the DLQ (SQS/Azure) and the
                # copy failed: send it there again rather than ack it away.
                poison[handle] = last_error or "Dead-lettered"
            elif status != Status.PENDING or pk in candidates:
                to_ack.append(handle)  # already handled: de-duplicated
                report.skipped += 1
            else:
                # Another worker holds the lease (it is sending a copy right
                # now): look again once that lease has expired.
                deferred.append(handle)

    if poison:
        with transaction.atomic():
            _dead_letter(backend, poison, too_many)
        if not backend.transactional:
            _dead_letter_on_queue(backend, poison)
        report.dead_lettered += len(too_many)
    if to_ack:
        backend.ack(to_ack)
    if deferred:
        backend.release(deferred, delay_seconds=visibility)
        report.deferred = len(deferred)

    deliveries = list(candidates.values())
    batches = _batches({d.batch_id for d in deliveries})
    held = {d.handle: d.pk for d in deliveries}
    with LeaseKeeper(backend, visibility=visibility, token=lease_token, held=held) as keeper:
        for group in deliver(
            deliveries,
            batches,
            window=settings.SENDER_CONCURRENCY,
            inline_window=settings.SENDER_BATCH_SIZE,
        ):
            counts = _record_and_ack(backend, keeper, group, lease_token, should_stop)
            for name, value in counts.items():
                setattr(report, name, getattr(report, name) + value)
    return report


def _lease(ids: list[uuid.UUID], token: uuid.UUID, until: datetime) -> dict[uuid.UUID, tuple]:
    """Lease the pending logs among ``ids`` nobody else is sending, reading
    what delivering needs of them in the same statement (``RETURNING``).
    Returns, by log id: (id as the database holds it, batch id, recipient,
    context, retry count, attempt count, enqueue source)."""
    if not ids:
        return {}
    native = connection.features.has_native_uuid_field
    by_db_id = {pk if native else pk.hex: pk for pk in ids}
    where, params = in_list("id", list(by_db_id))
    sql = (
        f"UPDATE {_LOG} SET lease_token = %s, lease_expires_at = %s"
        f" WHERE {where} AND status = %s"
        " AND (lease_expires_at IS NULL OR lease_expires_at < %s)"
        " RETURNING id, batch_id, recipient, context, retry_count, attempt_count, enqueue_source"
    )
    now = timezone.now()
    args = [uuid_param(token), datetime_param(until), *params, Status.PENDING.value]
    args.append(datetime_param(now))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    leased = {}
    loads = json.loads
    for db_id, batch_id, recipient, context, *rest in rows:
        if context.__class__ is str:  # JSON text on SQLite, and jsonb as Django loads it
            context = loads(context)
        leased[by_db_id[db_id]] = (db_id, batch_id, recipient, context, *rest)
    return leased


def _batches(ids: set[int | None]) -> dict[int, BatchInfo]:
    """The chunk's batches (mostly one) with their template, in one query."""
    ids.discard(None)
    if not ids:
        return {}
    rows = Batch.objects.filter(id__in=ids).values_list(
        "id", "channel", "template__name", "template__body"
    )
    return {pk: BatchInfo(*rest) for pk, *rest in rows}


def _record_and_ack(
    backend: QueueBackend,
    keeper: LeaseKeeper,
    group: list[Delivery],
    lease_token: uuid.UUID,
    should_stop: Callable[[], bool],
) -> Counter:
    """Commit a group's outcomes (waiting out a database outage: these sends
    happened and must be recorded), then ack their queue messages: in the
    same transaction on the embedded queue, right after it elsewhere."""
    handles = [d.handle for d in group]
    tries = 0

    def write() -> Counter:
        nonlocal tries
        tries += 1
        with transaction.atomic():
            # After a failed try, the COMMIT may have gone through before the
            # connection died: then this group is recorded, and must not be twice.
            counts = Counter() if tries > 1 and _recorded(group) else None
            if counts is None:
                counts = _record(group, lease_token=lease_token)
            if backend.transactional:
                backend.ack(keeper.current(handles))
        return counts

    counts = outlast(write, should_stop=should_stop)
    if not backend.transactional:
        backend.ack(keeper.current(handles))
    keeper.drop(handles)
    return counts


def _recorded(group: list[Delivery]) -> bool:
    """Whether every delivery of ``group`` already has its attempt row."""
    wanted = {(d.pk, d.attempt_count + 1) for d in group}
    found = DeliveryAttempt.objects.filter(
        message_id__in=[pk for pk, _ in wanted], number__in={n for _, n in wanted}
    ).values_list("message_id", "number")
    return wanted <= set(found)


def _dead_letter(
    backend: QueueBackend, poison: dict[str, str], receives: dict[uuid.UUID, int]
) -> None:
    """Mark logs dead-lettered (with the receive count their DLQ entry will
    show) and, for the db backend, move the queue rows in the same transaction."""
    if receives:
        reason = TOO_MANY_RECEIVES.format(limit=settings.QUEUE_MAX_RECEIVES)
        messages_dead_letter(
            message_ids=list(receives), reason=reason, actor="sender", receive_counts=receives
        )
    if backend.transactional:
        _dead_letter_on_queue(backend, poison)


def _dead_letter_on_queue(backend: QueueBackend, poison: dict[str, str]) -> None:
    by_reason: dict[str, list[str]] = {}
    for handle, reason in poison.items():
        by_reason.setdefault(reason, []).append(handle)
    for reason, handles in by_reason.items():
        backend.dead_letter(handles, reason=reason)


# Recording


def _record(deliveries: list[Delivery], *, lease_token: uuid.UUID) -> Counter:
    """Write a group's attempt rows (one ``executemany``) and its status
    changes (``transitions.messages_record_outcomes``)."""
    if not deliveries:
        return Counter()
    now = timezone.now()
    when = datetime_param(now)
    sent_by_receives: dict[int, list[object]] = {}
    failures: list[Failure] = []
    attempts = []
    for d in deliveries:
        if d.outcome == Outcome.SENT:
            sent_by_receives.setdefault(d.receive_count, []).append(d.db_id)
        else:
            failures.append(
                Failure(
                    d.db_id,
                    d.error,
                    d.outcome == Outcome.PERMANENT,
                    d.retry_count,
                    d.attempt_count,
                    d.receive_count,
                )
            )
        attempts.append(
            (
                d.db_id,
                d.attempt_count + 1,
                d.enqueue_source,
                str(d.outcome),
                d.error,
                round(d.duration_ms, 3),
                when,
            )
        )
    columns = "message_id, number, source, outcome, error, duration_ms, created_at"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # executemany is a round trip per row there
            with cursor.cursor.copy(f"COPY {_ATTEMPT} ({columns}) FROM STDIN") as copy:
                for row in attempts:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO {_ATTEMPT} ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                attempts,
            )
    return messages_record_outcomes(
        sent_by_receives=sent_by_receives, failures=failures, lease_token=lease_token, now=now
    )


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
