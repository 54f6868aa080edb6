"""The sender: receive a chunk, deliver it, record it, ack it.

Per chunk, whatever its size: one receive, one read of the logs, one lease
update, the channel sends (over a thread pool for slow channels), one
transaction of bulk writes, one ack. Never a query per message.

Guarantees (DESIGN.md): a log not ``pending`` is acked and skipped
(de-duplication); a lease on the log stops two copies of one envelope from
being sent at once; the queue message is acked only after the outcome is
committed, so a crash means redelivery after the visibility timeout; a message
received more than ``QUEUE_MAX_RECEIVES`` times goes to the DLQ.
"""

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from retry_admin.channels import ChannelError, OutgoingMessage, UnknownChannel, get_channel
from retry_admin.envelope import Envelope, InvalidEnvelope, decode
from retry_admin.models import (
    Batch,
    DeliveryAttempt,
    HourlyCount,
    MessageLog,
    Status,
    error_signature,
    insert_rows,
    render_template,
)
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.queues.base import ReceivedMessage
from retry_admin.services.backoff import next_retry_at
from retry_admin.services.dlq import messages_dead_letter
from retry_admin.services.health import heartbeat

logger = logging.getLogger(__name__)

Outcome = DeliveryAttempt.Outcome
_LOADED = (
    "id",
    "batch_id",
    "recipient",
    "context",
    "status",
    "retry_count",
    "attempt_count",
    "enqueue_source",
    "last_error",
)
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


@dataclass
class _Delivery:
    log: MessageLog
    handle: str
    receive_count: int
    message: OutgoingMessage | None = None
    channel: str = ""
    outcome: str = Outcome.SENT
    error: str = ""
    duration_ms: float = 0.0


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers != settings.SENDER_CONCURRENCY:
            _pool = ThreadPoolExecutor(
                max_workers=settings.SENDER_CONCURRENCY, thread_name_prefix="retry-admin-send"
            )
        return _pool


# Receiving and sorting out a chunk


def sender_process_chunk(
    *, backend: QueueBackend | None = None, max_messages: int | None = None
) -> SendReport:
    """Receive up to ``max_messages`` (``SENDER_BATCH_SIZE``) and deliver them."""
    backend = backend or get_backend()
    report = SendReport()
    visibility = settings.QUEUE_VISIBILITY_TIMEOUT
    lease_until = timezone.now() + timedelta(seconds=visibility)
    received = backend.receive(
        max_messages or settings.SENDER_BATCH_SIZE, visibility_timeout=visibility
    )
    if not received:
        return report
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

    # Only what delivering reads: the timestamps it never reads are most of
    # the cost of loading a chunk. (Fields it assigns need not be loaded.)
    logs = MessageLog.objects.only(*_LOADED).in_bulk(
        [env.message_id for _, env in envelopes.values()]
    )
    _attach_batches(logs.values())
    too_many: list[uuid.UUID] = []  # logs whose envelope goes to the DLQ
    candidates: dict[uuid.UUID, _Delivery] = {}
    to_ack: list[str] = []
    for handle, (item, envelope) in envelopes.items():
        log = logs.get(envelope.message_id)
        if log is None:
            logger.error("Dead-lettering envelope for unknown message id %s", envelope.message_id)
            poison[handle] = f"No message log with id {envelope.message_id}"
        elif item.receive_count > settings.QUEUE_MAX_RECEIVES and log.status == Status.PENDING:
            poison[handle] = TOO_MANY_RECEIVES.format(limit=settings.QUEUE_MAX_RECEIVES)
            too_many.append(log.pk)
        elif log.status == Status.DEAD_LETTERED:
            # Marked dead before its copy reached the DLQ (SQS/Azure) and the
            # copy failed: send it there again rather than ack it away.
            poison[handle] = log.last_error or "Dead-lettered"
        elif log.status != Status.PENDING or log.pk in candidates:
            to_ack.append(handle)  # already handled: de-duplicated
            report.skipped += 1
        else:
            candidates[log.pk] = _Delivery(log, handle, item.receive_count)

    lease_token, leased = _take_leases(list(candidates), lease_until)
    deferred = [d.handle for pk, d in candidates.items() if pk not in leased]
    deliveries = [d for pk, d in candidates.items() if pk in leased]

    _deliver(deliveries)

    with transaction.atomic():
        if poison:
            _dead_letter(backend, poison, too_many)
        counts = _record(deliveries, lease_token=lease_token)
    for name, value in counts.items():
        setattr(report, name, getattr(report, name) + value)
    report.dead_lettered += len(too_many)

    if not backend.transactional and poison:
        _dead_letter_on_queue(backend, poison)
    to_ack.extend(d.handle for d in deliveries)
    if to_ack:
        backend.ack(to_ack)
    if deferred:
        # Another worker holds the lease (it is sending a copy right now):
        # look again once that lease has expired.
        backend.release(deferred, delay_seconds=visibility)
        report.deferred = len(deferred)
    return report


def _attach_batches(logs) -> None:
    """Give each log its batch and template from one query of the chunk's
    batches, cached as select_related would: a join builds a Batch and a
    Template per log, and a chunk is mostly one batch."""
    logs = list(logs)
    ids = {log.batch_id for log in logs if log.batch_id is not None}
    batches = Batch.objects.select_related("template").in_bulk(ids) if ids else {}
    cache = MessageLog.batch.field.set_cached_value
    for log in logs:
        cache(log, batches.get(log.batch_id))


def _take_leases(ids: list[uuid.UUID], until: datetime) -> tuple[uuid.UUID, set[uuid.UUID]]:
    """Lease the pending logs nobody else is sending; returns (token, leased ids)."""
    token = uuid.uuid4()
    if not ids:
        return token, set()
    MessageLog.objects.filter(id__in=ids, status=Status.PENDING).filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=timezone.now())
    ).update(lease_token=token, lease_expires_at=until)
    leased = MessageLog.objects.filter(id__in=ids, lease_token=token).values_list("id", flat=True)
    return token, set(leased)


def _dead_letter(backend: QueueBackend, poison: dict[str, str], log_ids: list[uuid.UUID]) -> None:
    """Mark logs dead-lettered and, for the db backend, move the queue rows in
    the same transaction."""
    if log_ids:
        reason = TOO_MANY_RECEIVES.format(limit=settings.QUEUE_MAX_RECEIVES)
        messages_dead_letter(message_ids=log_ids, reason=reason, actor="sender")
    if backend.transactional:
        _dead_letter_on_queue(backend, poison)


def _dead_letter_on_queue(backend: QueueBackend, poison: dict[str, str]) -> None:
    by_reason: dict[str, list[str]] = {}
    for handle, reason in poison.items():
        by_reason.setdefault(reason, []).append(handle)
    for reason, handles in by_reason.items():
        backend.dead_letter(handles, reason=reason)


# Delivering


def _prepare(delivery: _Delivery) -> None:
    log = delivery.log
    batch = log.batch
    if batch is None or batch.template is None:
        delivery.outcome, delivery.error = Outcome.PERMANENT, "Batch or template no longer exists"
        return
    try:
        body = render_template(batch.template.body, log.context or {}, log.recipient)
    except KeyError as exc:
        delivery.outcome = Outcome.PERMANENT
        delivery.error = f"Template placeholder {exc.args[0]!r} has no value for this recipient"
        return
    delivery.channel = batch.channel
    delivery.message = OutgoingMessage(
        message_id=log.pk,
        recipient=log.recipient,
        body=body,
        attempt=log.attempt_count + 1,
        batch_id=batch.pk,
        context=log.context or {},
    )


def _send_one(channel_name: str, delivery: _Delivery) -> None:
    started = time.perf_counter()
    try:
        get_channel(channel_name).send(delivery.message)
    except ChannelError as exc:
        delivery.outcome = Outcome.PERMANENT if exc.permanent else Outcome.TRANSIENT
        delivery.error = str(exc) or exc.__class__.__name__
    except UnknownChannel as exc:
        delivery.outcome, delivery.error = Outcome.PERMANENT, str(exc)
    except Exception as exc:  # a channel bug must not stop the chunk: record it, retry later
        logger.exception("Channel %s raised unexpectedly for %s", channel_name, delivery.log.pk)
        delivery.outcome = Outcome.TRANSIENT
        delivery.error = f"{exc.__class__.__name__}: {exc}"
    delivery.duration_ms = (time.perf_counter() - started) * 1000


def _deliver(deliveries: list[_Delivery]) -> None:
    ready: dict[str, list[_Delivery]] = {}
    for delivery in deliveries:
        _prepare(delivery)
        if delivery.message is not None:
            ready.setdefault(delivery.channel, []).append(delivery)
    for channel_name, group in ready.items():
        try:
            concurrent = get_channel(channel_name).concurrent
        except UnknownChannel:
            concurrent = False
        if concurrent and len(group) > 1 and settings.SENDER_CONCURRENCY > 1:
            send: Callable[[_Delivery], None] = lambda d, c=channel_name: _send_one(c, d)  # noqa: E731
            list(_executor().map(send, group))
        else:
            for delivery in group:
                _send_one(channel_name, delivery)


# Recording


def _record(deliveries: list[_Delivery], *, lease_token: uuid.UUID) -> Counter:
    """Write statuses, attempts and hourly counts for a chunk, in bulk."""
    counts: Counter = Counter()
    if not deliveries:
        return counts
    now = timezone.now()
    sent_by_receives: dict[int, list[uuid.UUID]] = {}
    failed_rows: list[MessageLog] = []
    attempts: list[tuple] = []
    for d in deliveries:
        log = d.log
        attempts.append(
            (
                log.pk,
                log.attempt_count + 1,
                log.enqueue_source,
                d.outcome,
                d.error,
                round(d.duration_ms, 3),
            )
        )
        if d.outcome == Outcome.SENT:
            sent_by_receives.setdefault(d.receive_count, []).append(log.pk)
            continue
        out_of_retries = log.retry_count >= settings.MAX_MESSAGE_RETRY_COUNT
        if d.outcome == Outcome.PERMANENT or out_of_retries:
            log.status = Status.PERMANENTLY_FAILED
            log.next_retry_at = None
        else:
            log.status = Status.FAILED
            log.next_retry_at = next_retry_at(retry_count=log.retry_count, now=now)
        log.last_error = d.error
        log.error_signature = error_signature(d.error)
        log.attempt_count += 1
        log.receive_count = d.receive_count
        log.updated_at = now
        log.lease_token = None
        log.lease_expires_at = None
        failed_rows.append(log)

    for receives, ids in sent_by_receives.items():
        counts["sent"] += MessageLog.objects.filter(id__in=ids, lease_token=lease_token).update(
            status=Status.SENT,
            sent_at=now,
            updated_at=now,
            last_error="",
            error_signature="",
            next_retry_at=None,
            lease_token=None,
            lease_expires_at=None,
            receive_count=receives,
            attempt_count=F("attempt_count") + 1,
        )
    if failed_rows:
        # Guarded by the lease like the sent update: a sender whose lease ran
        # out must not overwrite (or count) the outcome of the one that took over.
        still_leased = set(
            MessageLog.objects.filter(
                id__in=[log.pk for log in failed_rows], lease_token=lease_token
            ).values_list("id", flat=True)
        )
        failed_rows = [log for log in failed_rows if log.pk in still_leased]
        for log in failed_rows:
            counts[
                "permanently_failed" if log.status == Status.PERMANENTLY_FAILED else "failed"
            ] += 1
        MessageLog.objects.filter(lease_token=lease_token).bulk_update(
            failed_rows,
            [
                "status",
                "last_error",
                "error_signature",
                "next_retry_at",
                "attempt_count",
                "receive_count",
                "updated_at",
                "lease_token",
                "lease_expires_at",
            ],
            batch_size=500,
        )
    insert_rows(
        DeliveryAttempt,
        ["message_id", "number", "source", "outcome", "error", "duration_ms"],
        attempts,
        created_at=now,
    )
    HourlyCount.add(
        sent=counts["sent"],
        failed=counts["failed"],
        permanently_failed=counts["permanently_failed"],
    )
    return counts


# Loops


def sender_drain(
    *,
    seconds: float | None = None,
    until_empty: bool = False,
    poll_seconds: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> SendReport:
    """Deliver chunks until ``seconds`` pass (``None``: forever), or, with
    ``until_empty``, until nothing is visible on the queue. Polls every
    ``SENDER_POLL_SECONDS`` while the queue is empty; survives an unavailable
    queue by logging it and polling again."""
    poll = settings.SENDER_POLL_SECONDS if poll_seconds is None else poll_seconds
    deadline = None if seconds is None else time.monotonic() + seconds
    total = SendReport()
    last_beat = 0.0
    while not should_stop():
        if time.monotonic() - last_beat >= 5:
            heartbeat("sender", received=total.received, sent=total.sent)
            last_beat = time.monotonic()
        try:
            report = sender_process_chunk()
        except QueueError as exc:
            logger.warning("Queue unavailable, polling again in %s s: %s", poll, exc)
            report = SendReport()
            if until_empty:
                raise
        total.add(report)
        if deadline is not None and time.monotonic() >= deadline:
            break
        if report.received == 0:
            if until_empty:
                break
            pause = poll if deadline is None else min(poll, max(0.0, deadline - time.monotonic()))
            time.sleep(pause)
    heartbeat("sender", received=total.received, sent=total.sent)
    return total
