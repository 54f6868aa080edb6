"""The dead-letter queue as pages and the API see it: entries with their
messages, depth, the first error of each, and which ids are in it."""

import functools
import uuid
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min

from retry_admin import policy
from retry_admin.envelope import InvalidEnvelope, decode
from retry_admin.models import DeliveryAttempt, Heartbeat, MessageEvent, MessageLog
from retry_admin.queues import get_backend
from retry_admin.queues.base import DeadLetter
from retry_admin.schedules import DLQ_AUTO_REPLAY, next_run

# Who the automatic reprocessing replays as (its timeline events carry this
# name, which is how its replays of each message are counted), and its heartbeat.
AUTO_ACTOR = "automatic reprocessing"
AUTO_HEARTBEAT = "dlq-auto-replay"


@dataclass
class DLQEntry:
    id: str
    body: str
    receive_count: int
    dead_at: object
    reason: str
    message: MessageLog | None  # or a named tuple of message_fields
    readable: bool
    details: dict[str, str] = field(default_factory=dict)  # the transport's evidence
    # The automatic reprocessing (services/dlq_auto.py): replays so far, the
    # last one, and when the next is due (None: left for an admin).
    auto_attempts: int = 0
    auto_last_at: datetime | None = None
    auto_next_at: datetime | None = None

    @property
    def poison_loop(self) -> bool:
        """Back in the DLQ after a replay."""
        return bool(self.message and self.message.dead_letter_count > 1)


def dlq_entries(
    *,
    limit: int = 100,
    ids: Sequence[str] | None = None,
    message_fields: Sequence[str] = (),
) -> list[DLQEntry]:
    """The DLQ's messages (oldest first, or ``ids``), each with its log when
    the body is ours: the whole log with its batch, or only
    ``message_fields`` (with ``id`` and ``receive_count``, which an entry
    may need) as a named tuple with ``pk``."""
    entries = get_backend().dlq_peek(limit=limit, ids=ids)
    message_ids = {}
    for entry in entries:
        try:
            message_ids[entry.id] = decode(entry.body).message_id
        except InvalidEnvelope:
            continue
    if message_fields:
        row = _message_row(tuple(dict.fromkeys(("id", *message_fields, "receive_count"))))
        rows = MessageLog.objects.filter(pk__in=list(message_ids.values())).values_list(
            *row._fields
        )
        logs = {log.id: log for log in map(row._make, rows)}
    else:
        logs = MessageLog.objects.select_related("batch").in_bulk(list(message_ids.values()))
    replays = auto_replays(list(message_ids.values()))
    entries = [
        DLQEntry(
            id=entry.id,
            body=entry.body,
            receive_count=_receives(entry, logs.get(message_ids.get(entry.id))),
            dead_at=entry.dead_at,
            reason=entry.reason,
            message=logs.get(message_ids.get(entry.id)),
            readable=entry.id in message_ids,
            details=entry.details,
        )
        for entry in entries
    ]
    for entry in entries:
        if entry.message is not None:
            attempts, last = replays.get(entry.message.pk, (0, None))
            entry.auto_attempts, entry.auto_last_at = attempts, last
            if settings.DLQ_AUTO_REPLAY:
                entry.auto_next_at = policy.dlq_auto_replay_at(
                    attempts=attempts, dead_at=entry.dead_at, last_attempt_at=last
                )
    return entries


@functools.cache
def _message_row(fields: tuple[str, ...]) -> type:
    """A named tuple of a log's ``fields`` with its ``pk``: what a table
    reads of each entry's log, without building a model instance for it."""
    row = namedtuple("MessageFields", fields)
    row.pk = property(lambda self: self.id)
    return row


def auto_replays(message_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, tuple[int, datetime]]:
    """How many times the automatic reprocessing replayed each message, and
    when last: its replays are the timeline's DLQ replay events in its name."""
    rows = (
        MessageEvent.objects.filter(
            message_id__in=message_ids, kind=MessageEvent.Kind.DLQ_REPLAY, actor_name=AUTO_ACTOR
        )
        .values("message_id")
        .annotate(n=Count("id"), last=Max("created_at"))
    )
    return {row["message_id"]: (row["n"], row["last"]) for row in rows}


@dataclass
class AutoReplayStatus:
    enabled: bool
    every_minutes: int
    backoff_minutes: float
    max_attempts: int
    last_run_at: datetime | None
    last_run: dict  # what the last run did (services/dlq_auto.py, AutoReplayReport)
    next_run_at: datetime | None


def dlq_auto_status() -> AutoReplayStatus:
    """Whether the automatic reprocessing runs, when it last ran and what it
    did, and when it runs next."""
    beat = Heartbeat.objects.filter(name=AUTO_HEARTBEAT).first()
    enabled = settings.DLQ_AUTO_REPLAY
    return AutoReplayStatus(
        enabled=enabled,
        every_minutes=settings.DLQ_AUTO_REPLAY_INTERVAL_MINUTES,
        backoff_minutes=settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES,
        max_attempts=settings.DLQ_AUTO_REPLAY_MAX_ATTEMPTS,
        last_run_at=beat.beat_at if beat else None,
        last_run=beat.details if beat else {},
        next_run_at=next_run(DLQ_AUTO_REPLAY) if enabled else None,
    )


def _receives(entry: DeadLetter, log: MessageLog | None) -> int:
    """An entry in the DLQ was received at least once: 0 means the transport
    cannot tell (an Azure poison message is the body alone), so the count the
    sender recorded on its log when it dead-lettered it stands in."""
    if entry.receive_count or log is None:
        return entry.receive_count
    return log.receive_count


def unknown_dlq_ids(ids: list[str]) -> list[str]:
    """The ids that are not in the dead-letter queue, in the order given."""
    backend = get_backend()
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        known.update(entry.id for entry in backend.dlq_peek(ids=part, limit=len(part)))
    return [entry_id for entry_id in ids if entry_id not in known]


def dlq_depth() -> int:
    """Entries in the DLQ; raises ``QueueError`` when the queue cannot be read."""
    return get_backend().dlq_depth()


def first_errors(message_ids: Sequence) -> dict:
    """The first failed attempt's error of each message, in two queries."""
    firsts = (
        DeliveryAttempt.objects.filter(message_id__in=message_ids)
        .exclude(outcome=DeliveryAttempt.Outcome.SENT)
        .values("message_id")
        .annotate(first=Min("number"))
    )
    wanted = {(row["message_id"], row["first"]) for row in firsts}
    if not wanted:
        return {}
    rows = DeliveryAttempt.objects.filter(
        message_id__in=[m for m, _ in wanted], number__in={n for _, n in wanted}
    ).values_list("message_id", "number", "error")
    return {m: error for m, n, error in rows if (m, n) in wanted}
