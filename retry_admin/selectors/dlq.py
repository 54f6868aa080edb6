"""The dead-letter queue as pages and the API see it: entries with their
messages, depth, the first error of each, and which ids are in it."""

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Min

from retry_admin.envelope import InvalidEnvelope, decode
from retry_admin.models import DeliveryAttempt, MessageLog
from retry_admin.queues import get_backend
from retry_admin.queues.base import DeadLetter


@dataclass
class DLQEntry:
    id: str
    body: str
    receive_count: int
    dead_at: object
    reason: str
    message: MessageLog | None
    readable: bool
    details: dict[str, str] = field(default_factory=dict)  # the transport's evidence

    @property
    def poison_loop(self) -> bool:
        """Back in the DLQ after a replay."""
        return bool(self.message and self.message.dead_letter_count > 1)


def dlq_entries(*, limit: int = 100, ids: Sequence[str] | None = None) -> list[DLQEntry]:
    """The DLQ's messages (oldest first, or ``ids``), each with its log when
    the body is ours."""
    entries = get_backend().dlq_peek(limit=limit, ids=ids)
    message_ids = {}
    for entry in entries:
        try:
            message_ids[entry.id] = decode(entry.body).message_id
        except InvalidEnvelope:
            continue
    logs = MessageLog.objects.select_related("batch").in_bulk(list(message_ids.values()))
    return [
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
