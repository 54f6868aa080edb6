"""The dead-letter queue: replay and purge.

Replay puts a message back on the main queue and only then out of the DLQ
(the backend's ``dlq_move`` guarantees that order); a body that is not our
envelope, or points at no message log, stays in the DLQ and is reported.
"""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from retry_admin.envelope import InvalidEnvelope, decode
from retry_admin.models import (
    AuditEvent,
    MessageEvent,
    MessageLog,
    Status,
)
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.queues.base import DeadLetter
from retry_admin.services.audit import actor_name, audit_record
from retry_admin.services.events import message_events_record
from retry_admin.services.transitions import (
    messages_dead_letter,
    messages_purged,
    messages_replay_undone,
    messages_replayed,
)

logger = logging.getLogger(__name__)

PAGE = 500
NOT_OURS = "Not a Retry Admin envelope"
NOT_IN_DLQ = "not in the dead-letter queue"


class Outcome(StrEnum):
    """What a replay did with one DLQ entry."""

    REPLAYED = "replayed"  # our envelope, back on the main queue, its log pending
    MOVED_AS_IS = "moved_as_is"  # a foreign body, back on the main queue unchanged
    LEFT = "left"  # still in the DLQ (the reason says why)

    @property
    def label(self) -> str:
        return "moved as-is" if self is Outcome.MOVED_AS_IS else self.value


@dataclass
class ReplayResult:
    replayed_ids: list[str] = field(default_factory=list)
    moved_as_is: list[str] = field(default_factory=list)  # foreign bodies moved unchanged
    unreadable: dict[str, str] = field(default_factory=dict)  # DLQ id -> why it stayed
    failed: dict[str, str] = field(default_factory=dict)  # DLQ id -> move error

    @property
    def replayed(self) -> int:
        return len(self.replayed_ids)

    @property
    def left(self) -> dict[str, str]:
        """The entries still in the DLQ, with why."""
        return {**self.unreadable, **self.failed}

    @property
    def success(self) -> bool:
        """Nothing asked for was left behind."""
        return not self.unreadable and not self.failed

    def outcomes(self) -> list[tuple[str, Outcome, str]]:
        """(DLQ id, what happened, why) for every entry, in that order."""
        return (
            [(i, Outcome.REPLAYED, "") for i in self.replayed_ids]
            + [(i, Outcome.MOVED_AS_IS, "") for i in self.moved_as_is]
            + [(i, Outcome.LEFT, why) for i, why in self.left.items()]
        )

    def add(self, other: "ReplayResult") -> None:
        self.replayed_ids += other.replayed_ids
        self.moved_as_is += other.moved_as_is
        self.unreadable.update(other.unreadable)
        self.failed.update(other.failed)


def _readable(entries: Sequence[DeadLetter], result: ReplayResult) -> dict[str, uuid.UUID]:
    """DLQ id -> message id for entries that are our envelopes for a known log."""
    parsed: dict[str, uuid.UUID] = {}
    for entry in entries:
        try:
            parsed[entry.id] = decode(entry.body).message_id
        except InvalidEnvelope as exc:
            result.unreadable[entry.id] = f"{NOT_OURS}: {exc}"
    known = set(MessageLog.objects.filter(id__in=parsed.values()).values_list("id", flat=True))
    for dlq_id, message_id in list(parsed.items()):
        if message_id not in known:
            result.unreadable[dlq_id] = f"No message log with id {message_id}"
            del parsed[dlq_id]
    return parsed


def _move_as_is(backend: QueueBackend, result: ReplayResult) -> None:
    """Put the unreadable entries back on the main queue unchanged, as the SQS
    redrive does: for a consumer other than our sender (which dead-letters
    a body it cannot read again). No message log changes."""
    if not result.unreadable:
        return
    moved = backend.dlq_move(list(result.unreadable))
    for dlq_id in moved.moved:
        result.unreadable.pop(dlq_id, None)
    for dlq_id, error in moved.failed.items():
        result.unreadable.pop(dlq_id, None)
        result.failed[dlq_id] = error
    result.moved_as_is += moved.moved


def _replay_entries(
    backend: QueueBackend, entries: Sequence[DeadLetter], actor: str = "", *, as_is: bool = False
) -> ReplayResult:
    result = ReplayResult()
    parsed = _readable(entries, result)
    if as_is:
        _move_as_is(backend, result)
    if not parsed:
        return result
    if backend.transactional:
        # Queue and logs share the database: move, then mark exactly what moved,
        # in one transaction, so the sender never sees one without the other.
        with transaction.atomic():
            moved = backend.dlq_move(list(parsed))
            messages_replayed(message_ids=[parsed[i] for i in moved.moved], now=timezone.now())
    else:
        # The log must say pending before its envelope can reach a sender, so
        # mark first, then move, and put back whatever did not move.
        messages_replayed(message_ids=list(parsed.values()), now=timezone.now())
        moved = backend.dlq_move(list(parsed))
        if moved.failed:
            messages_replay_undone(
                message_ids=[parsed[i] for i in moved.failed if i in parsed], now=timezone.now()
            )
    message_events_record(
        message_ids=[parsed[i] for i in moved.moved if i in parsed],
        kind=MessageEvent.Kind.DLQ_REPLAY,
        actor=actor,
    )
    result.replayed_ids += moved.moved
    result.failed.update(moved.failed)
    return result


def dlq_replay(
    *,
    ids: Sequence[str] | None,
    user: AbstractBaseUser | None,
    limit: int | None = None,
    as_is: bool = False,
    actor: str = "",
) -> ReplayResult:
    """Replay the DLQ entries ``ids``, or all of them (up to ``limit``).

    Our envelopes go back with their logs marked pending; a body that is not
    ours (or points at no log) stays and is reported, or with ``as_is`` goes
    back on the main queue unchanged. An id not in the DLQ is reported as
    left. ``actor`` names who replays when there is no user (the automatic
    reprocessing)."""
    backend = get_backend()
    who = actor_name(user) if user is not None else actor
    result = ReplayResult()
    if ids is not None:
        for start in range(0, len(ids), PAGE):
            part = ids[start : start + PAGE]
            entries = backend.dlq_peek(ids=part, limit=len(part))
            result.add(_replay_entries(backend, entries, who, as_is=as_is))
            found = {e.id for e in entries}
            result.failed.update({i: NOT_IN_DLQ for i in part if i not in found})
    else:
        # Bounded by what the DLQ held at the start: a foreign body moved back
        # may be dead-lettered again while this runs, and must not be chased.
        goal = backend.dlq_depth() if limit is None else limit
        done: set[str] = set()
        while len(done) < goal:
            size = min(PAGE, goal - len(done))
            entries = [e for e in backend.dlq_peek(limit=size + len(done)) if e.id not in done]
            entries = entries[:size]
            if not entries:
                break
            page = _replay_entries(backend, entries, who, as_is=as_is)
            result.add(page)
            done.update(e.id for e in entries)
    _audit_replay(user, result, "all" if ids is None else f"{len(ids)} entries")
    return result


def dlq_replay_messages(
    *, message_ids: Sequence[uuid.UUID], user: AbstractBaseUser | None
) -> ReplayResult:
    """Replay the DLQ entries that carry these message ids."""
    backend = get_backend()
    wanted = set(message_ids)
    found: list[str] = []
    for entry in backend.dlq_peek(limit=backend.dlq_depth() or 1):
        try:
            if decode(entry.body).message_id in wanted:
                found.append(entry.id)
        except InvalidEnvelope:
            continue
    result = dlq_replay(ids=found, user=None) if found else ReplayResult()
    if user is not None:
        _audit_replay(user, result, f"{len(wanted)} messages")
    return result


def _audit_replay(user: AbstractBaseUser | None, result: ReplayResult, target: str) -> None:
    if user is None:
        return
    audit_record(
        user=user,
        action=AuditEvent.Action.DLQ_REPLAY,
        target=target,
        count=result.replayed,
        details={
            "replayed": result.replayed,
            "moved_as_is": len(result.moved_as_is),
            "unreadable": len(result.unreadable),
            "failed": len(result.failed),
        },
    )


def dlq_purge(*, ids: Sequence[str] | None, user: AbstractBaseUser | None) -> int:
    """Delete DLQ entries (``ids``, or all). Their messages become permanently
    failed, with who purged them as the error, so the logs stay truthful."""
    backend = get_backend()
    who = actor_name(user)
    reason = f"Purged from the dead-letter queue by {who}"
    now = timezone.now()
    if ids is None:
        purged = backend.dlq_purge(None)
        message_ids = None
    else:
        readable = _readable(backend.dlq_peek(ids=ids, limit=len(ids)), ReplayResult())
        purged = backend.dlq_purge(ids)
        message_ids = list(readable.values())
    messages_purged(message_ids=message_ids, reason=reason, actor=who, now=now)
    audit_record(
        user=user,
        action=AuditEvent.Action.DLQ_PURGE,
        target="all" if ids is None else f"{len(ids)} entries",
        count=purged,
    )
    logger.warning("%s purged %d DLQ entries", who, purged)
    return purged


# Reconciling with a queue that dead-letters by itself

RECONCILE_GRACE_SECONDS = 300
REDRIVEN = "Moved to the dead-letter queue by the queue's redrive policy"


def dlq_reconcile(*, grace_seconds: float = RECONCILE_GRACE_SECONDS, limit: int = 1000) -> int:
    """Mark ``dead_lettered`` the pending logs whose envelope the queue service
    moved to the DLQ by itself (the SQS redrive policy, the safety net behind
    the sender's own dead-lettering). Returns how many logs changed.

    Only logs unchanged for ``grace_seconds`` are touched: a replay marks its
    logs pending a moment before it moves their envelopes out of the DLQ. An
    unavailable queue is logged and left for the next run."""
    backend = get_backend()
    if not backend.redrives:
        return 0
    try:
        if backend.dlq_depth() == 0:
            return 0
        entries = backend.dlq_peek(limit=limit)
    except QueueError as exc:
        logger.warning("DLQ reconcile skipped, queue unavailable: %s", exc)
        return 0
    readable = _readable(entries, ReplayResult())
    if not readable:
        return 0
    # The log takes the receive count its DLQ entry shows (what the redrive
    # policy allowed), so the two agree.
    receives = {readable[e.id]: e.receive_count for e in entries if e.id in readable}
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            MessageLog.objects.filter(
                id__in=list(receives),
                status=Status.PENDING,
                updated_at__lte=now - timezone.timedelta(seconds=grace_seconds),
            ).values_list("id", flat=True)
        )
        changed = messages_dead_letter(
            message_ids=stale, reason=REDRIVEN, actor="queue", receive_counts=receives
        )
    if changed:
        logger.warning(
            "%d message(s) found in the DLQ while pending: marked dead-lettered", changed
        )
    return changed
