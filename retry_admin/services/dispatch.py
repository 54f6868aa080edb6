"""The outbox: pending message logs that have not reached the queue yet.

Every path that puts a message on the queue (batch creation, the retry cycle,
manual retry) first commits the log as ``pending`` with ``enqueued_at`` empty,
then calls ``dispatch``. If the queue is down the logs simply stay in the
outbox and the scheduled dispatcher sends them later: nothing is lost.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from retry_admin.envelope import Envelope
from retry_admin.models import MessageLog
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.queues.base import SendResult

logger = logging.getLogger(__name__)

CHUNK = 1000


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
            logger.warning("Queue unavailable; %d+ messages stay in the outbox: %s", len(rows), exc)
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
        bodies = [
            Envelope(msg_id, batch_id, recipient, template_id, attempts + 1).encode()
            for msg_id, batch_id, recipient, template_id, attempts, _ in group
        ]
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


def dispatch_on_commit(**kwargs) -> None:
    """Dispatch once the surrounding transaction commits (never before: the
    sender must find the committed log when the envelope arrives)."""

    def run() -> None:
        try:
            dispatch(**kwargs)
        except Exception:
            # The logs are committed and stay in the outbox; the scheduled
            # dispatcher retries them. Log loudly, never lose the request.
            logger.exception("Dispatch after commit failed; the outbox will retry")

    transaction.on_commit(run)
