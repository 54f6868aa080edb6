"""What a message's timeline is made of, beyond its own attempts and events:
admin actions aimed at it, its retries by route, and its entry in the
dead-letter queue, asked of whichever queue backend is configured."""

from dataclasses import dataclass

from django.db.models import Count

from retry_admin.envelope import InvalidEnvelope, decode
from retry_admin.models import (
    AuditEvent,
    DeliveryAttempt,
    MessageEvent,
    MessageLog,
    Source,
    Status,
)
from retry_admin.queues import QueueError, get_backend
from retry_admin.queues.base import DeadLetter

# How many DLQ entries a message's page reads looking for its own. Entry ids
# are the backend's, not message ids, so the bodies are decoded and compared.
DLQ_SCAN_LIMIT = 500


@dataclass
class MessageHistory:
    attempts: list[DeliveryAttempt]
    events: list[MessageEvent]
    audit_events: list[AuditEvent]  # admin actions aimed at this one message
    dlq_entry: DeadLetter | None  # see ``message_dlq_entry``


def message_history(message: MessageLog) -> MessageHistory:
    """Every row that mentions the message, for its timeline."""
    return MessageHistory(
        attempts=list(message.attempts.all()),
        events=list(message.events.all()),
        audit_events=list(AuditEvent.objects.filter(target=str(message.pk))),
        dlq_entry=message_dlq_entry(message),
    )


def message_retries_by_source(message: MessageLog) -> list[dict]:
    """``[{"source", "n"}]``: its attempts after it was sent again, per route."""
    return list(
        message.attempts.exclude(source=Source.QUEUE)
        .values("source")
        .annotate(n=Count("id"))
        .order_by("source")
    )


def message_dlq_entry(message: MessageLog) -> DeadLetter | None:
    """Its entry in the dead-letter queue, when the log says it is dead-lettered
    and one of the first ``DLQ_SCAN_LIMIT`` entries carries its id (the newest
    such); ``None`` otherwise, or when the queue cannot be read."""
    if message.status != Status.DEAD_LETTERED:
        return None
    try:
        entries = get_backend().dlq_peek(limit=DLQ_SCAN_LIMIT)
    except QueueError:
        return None
    found = None
    for entry in entries:
        try:
            if decode(entry.body).message_id == message.pk:
                found = entry
        except InvalidEnvelope:
            continue
    return found
