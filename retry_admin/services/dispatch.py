"""The outbox: pending message logs that have not reached the queue yet.

Every path that puts a message on the queue (batch creation, the retry cycle,
manual retry) first commits the log as ``pending`` with ``enqueued_at`` empty,
then calls ``dispatch``. If the queue is down the logs simply stay in the
outbox and the scheduled dispatcher sends them later: nothing is lost.

A new batch on a transport outside the database (SQS, Azure, Redis,
RabbitMQ) is enqueued in the background, never inside the request that
created it: ``dispatch_on_commit`` queues one django-q2 task once the logs
have committed, and that task (or the minute dispatcher, or any long-running
process) calls ``dispatch_pending``, which holds the dispatcher lock so that
two processes never walk the outbox at once.
"""

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from retry_admin.locks import held_lock
from retry_admin.logevents import log_event
from retry_admin.models import MessageLog
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.queues.base import SendResult
from retry_admin.services.envelopes import envelope_bodies

logger = logging.getLogger(__name__)

CHUNK = 1000
# The lock every walk of the outbox holds (also ``tasks.dispatch_outbox``'s).
DISPATCH_LOCK = "dispatcher"
# How long a new batch's background dispatch waits for a walk already running.
BATCH_DISPATCH_WAIT_SECONDS = 60.0


@dataclass
class DispatchResult:
    enqueued: int = 0
    failed: dict[uuid.UUID, str] = field(default_factory=dict)  # id -> why not enqueued
    error: str = ""  # the queue error that stopped the dispatch, if any


def dispatch(
    *,
    message_ids: Sequence[uuid.UUID] | None = None,
    batch_id: int | None = None,
    older_than: datetime | None = None,
) -> DispatchResult:
    """Enqueue outbox logs (all, or those of ``message_ids`` / ``batch_id``).

    Stops at the first ``QueueError``: the remaining logs stay in the outbox,
    listed in ``failed`` when they were asked for by id."""
    backend = get_backend()
    result = DispatchResult()
    base = MessageLog.objects.needing_dispatch(older_than=older_than)
    if batch_id is not None:
        base = base.filter(batch_id=batch_id)
    id_chunks = (
        [list(message_ids[i : i + CHUNK]) for i in range(0, len(message_ids), CHUNK)]
        if message_ids is not None
        else None
    )
    last_id = None
    chunk_index = 0
    while True:
        if id_chunks is not None:
            if chunk_index >= len(id_chunks):
                break
            qs = base.filter(id__in=id_chunks[chunk_index])
            chunk_index += 1
        else:
            qs = base if last_id is None else base.filter(id__gt=last_id)
        rows = list(
            qs.order_by("id").values_list(
                "id",
                "batch_id",
                "recipient",
                "batch__template_id",
                "attempt_count",
                "batch__priority",
            )[:CHUNK]
        )
        if not rows:
            if id_chunks is None:
                break
            continue
        last_id = rows[-1][0]
        try:
            sent, rejected = _send_chunk(backend, rows)
        except QueueError as exc:
            log_event(
                logger,
                logging.ERROR,
                "queue.send_failed",
                "Queue unavailable; %d+ messages stay in the outbox: %s",
                len(rows),
                exc,
                count=len(rows),
                error=str(exc),
            )
            result.error = str(exc)
            unavailable = f"Queue unavailable: {exc}"
            result.failed.update((row[0], unavailable) for row in rows)
            if id_chunks is not None:
                for remaining in id_chunks[chunk_index:]:
                    result.failed.update((pk, unavailable) for pk in remaining)
            break
        result.enqueued += len(sent)
        result.failed.update(rejected)
    return result


def send_all(backend: QueueBackend, bodies: list[str], *, priority: int = 0) -> list[SendResult]:
    """Send bodies in the backend's largest batches; one result per body."""
    outcomes: list[SendResult] = []
    for start in range(0, len(bodies), backend.max_send_batch):
        part = bodies[start : start + backend.max_send_batch]
        outcomes.extend(backend.send(part, priority=priority))
    return outcomes


def _send_chunk(backend, rows: list[tuple]) -> tuple[set[uuid.UUID], dict[uuid.UUID, str]]:
    """Send one chunk, grouped by priority; returns (ids that got on the queue,
    id -> the queue's reason for each one it refused)."""
    by_priority: dict[int, list[tuple]] = {}
    for row in rows:
        by_priority.setdefault(row[5] or 0, []).append(row)
    sent: set[uuid.UUID] = set()
    rejected: dict[uuid.UUID, str] = {}
    for priority, group in sorted(by_priority.items(), reverse=True):
        group, bodies, too_large = envelope_bodies(backend, group)
        rejected.update(too_large)
        with transaction.atomic():
            outcomes = send_all(backend, bodies, priority=priority)
            ok = [row[0] for row, outcome in zip(group, outcomes, strict=True) if outcome.ok]
            for row, outcome in zip(group, outcomes, strict=True):
                if not outcome.ok:
                    logger.error("Message %s could not be enqueued: %s", row[0], outcome.error)
                    rejected[row[0]] = f"Enqueue refused: {outcome.error}"
            _mark_enqueued(ok, timezone.now())
        sent.update(ok)
    return sent, rejected


def _mark_enqueued(ids: list[uuid.UUID], now: datetime) -> None:
    for start in range(0, len(ids), CHUNK):
        MessageLog.objects.filter(id__in=ids[start : start + CHUNK]).mark_enqueued(now)


def dispatch_pending(
    *,
    batch_id: int | None = None,
    older_than: datetime | None = None,
    wait_seconds: float = 0.0,
) -> DispatchResult | None:
    """Enqueue what the outbox holds (of ``batch_id`` only, or all of it;
    with ``older_than``, only logs last changed before then), holding the
    dispatcher lock. The one entry point for background enqueueing: the task
    ``dispatch_on_commit`` queues, the minute dispatcher and a long-running
    sender may all call it at any time.

    Walks again until a walk enqueues nothing, so logs committed while it ran
    are not left behind. Returns None, having done nothing, when another
    process held the lock for all of ``wait_seconds``: that walk, or the
    minute dispatcher after it, sends them. Never sends a log twice from two
    walks at once (the lock); a copy enqueued twice by other paths is
    de-duplicated by the sender (``services.sender``)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with held_lock(DISPATCH_LOCK) as token:
            if token is not None:
                total = DispatchResult()
                while True:
                    walk = dispatch(batch_id=batch_id, older_than=older_than)
                    total.enqueued += walk.enqueued
                    total.failed.update(walk.failed)
                    if walk.error or not walk.enqueued:
                        total.error = walk.error
                        return total
        if time.monotonic() >= deadline:
            return None
        time.sleep(min(0.25, max(0.0, deadline - time.monotonic())))


def dispatch_batch_task(batch_id: int) -> dict:
    """The django-q2 task ``dispatch_on_commit`` queues: enqueue the batch's
    logs, waiting up to ``BATCH_DISPATCH_WAIT_SECONDS`` for a walk already
    running (the minute dispatcher covers it if that times out)."""
    result = dispatch_pending(batch_id=batch_id, wait_seconds=BATCH_DISPATCH_WAIT_SECONDS)
    if result is None:
        return {"skipped": "another dispatcher run is active; the minute dispatcher follows"}
    return {"enqueued": result.enqueued, "error": result.error}


def dispatch_on_commit(*, batch_id: int) -> None:
    """Once the surrounding transaction commits (never before: the sender must
    find the committed log when the envelope arrives), queue the background
    dispatch of ``batch_id`` (``dispatch_batch_task``). The request that
    created the batch answers without waiting for the queue; if the task
    cannot be queued, the logs stay in the outbox for the minute dispatcher."""

    def run() -> None:
        from django_q.tasks import async_task

        try:
            async_task(
                "retry_admin.services.dispatch.dispatch_batch_task",
                batch_id,
                task_name=f"dispatch batch {batch_id}",
            )
        except Exception:
            # The logs are committed and stay in the outbox; the scheduled
            # dispatcher sends them. Log loudly, never lose the request.
            logger.exception(
                "Could not queue the dispatch of batch %s; the outbox will retry", batch_id
            )

    transaction.on_commit(run)


def dispatch_backlog(batch_id: int) -> int:
    """How many of the batch's logs are still waiting to reach the queue."""
    return MessageLog.objects.needing_dispatch().filter(batch_id=batch_id).count()
