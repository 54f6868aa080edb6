"""A message's life, oldest first, assembled from every row that mentions it:
the log itself, its delivery attempts, its events, admin actions aimed at it,
and its entry in the dead-letter queue if it is there now."""

from dataclasses import dataclass
from datetime import datetime

from retry_admin import policy, selectors
from retry_admin.models import (
    AuditEvent,
    DeliveryAttempt,
    MessageEvent,
    MessageLog,
    Source,
    Status,
)
from retry_admin.services.templates import template_render
from retry_admin.templatetags.console import stamp

_SOURCE_NOTE = {
    Source.QUEUE: "first send, from the batch",
    Source.RETRY: "sent again by the scheduled retry cycle",
    Source.MANUAL: "sent again after a manual retry",
    Source.DLQ_REPLAY: "sent again after a DLQ replay",
}
_OUTCOME_CSS = {"sent": "ok", "transient": "warn", "permanent": "bad"}
_EVENT_CSS = {
    MessageEvent.Kind.RETRY_CYCLE: "info",
    MessageEvent.Kind.MANUAL_RETRY: "admin",
    MessageEvent.Kind.DEAD_LETTERED: "dead",
    MessageEvent.Kind.DLQ_REPLAY: "admin",
    MessageEvent.Kind.DLQ_PURGE: "bad",
}


@dataclass
class Entry:
    at: datetime
    css: str
    title: str
    note: str = ""
    actor: str = ""
    error: str = ""
    duration_ms: float | None = None
    order: int = 0  # breaks ties between entries of the same instant


def _attempt(attempt: DeliveryAttempt) -> Entry:
    return Entry(
        at=attempt.created_at,
        css=_OUTCOME_CSS.get(attempt.outcome, "info"),
        title=f"Attempt {attempt.number}: {attempt.get_outcome_display().lower()}",
        note=_SOURCE_NOTE.get(attempt.source, attempt.source),
        error=attempt.error,
        duration_ms=attempt.duration_ms,
        order=2,
    )


def _event(event: MessageEvent) -> Entry:
    return Entry(
        at=event.created_at,
        css=_EVENT_CSS.get(event.kind, "info"),
        title=event.get_kind_display(),
        note=event.detail,
        actor=event.actor_name if event.actor_name not in ("", "system", "sender") else "",
        order=1,
    )


def message_timeline(message: MessageLog) -> list[Entry]:
    entries = [
        Entry(at=message.created_at, css="info", title="Created", note=_created_note(message))
    ]
    history = selectors.message_history(message)
    entries += [_attempt(a) for a in history.attempts]
    entries += [_event(e) for e in history.events]
    for audit in history.audit_events:
        entries.append(
            Entry(
                at=audit.created_at,
                css="admin",
                title=audit.get_action_display(),
                actor=audit.actor_name,
                note=_audit_note(audit),
                order=1,
            )
        )
    dead = history.dlq_entry
    if dead is not None and dead.dead_at:
        entries.append(
            Entry(
                at=dead.dead_at,
                css="dead",
                title="In the dead-letter queue now",
                note=f"DLQ entry {dead.id}, received {dead.receive_count} times",
                error=dead.reason,
                order=3,
            )
        )
    entries.sort(key=lambda e: (e.at, e.order))
    return entries


def _created_note(message: MessageLog) -> str:
    if message.batch_id is None:
        return "its batch has since been deleted"
    return f"in batch #{message.batch_id}"


def _audit_note(audit: AuditEvent) -> str:
    details = audit.details or {}
    parts = [f"{k.replace('_', ' ')}: {v}" for k, v in details.items() if isinstance(v, int) and v]
    return ", ".join(parts)


def rendered_body(message: MessageLog) -> tuple[str, str]:
    """(body, problem): the text as it was or would be sent, or why it cannot be."""
    batch = message.batch
    if batch is None:
        return "", "Its batch was deleted, so the body cannot be rendered."
    if batch.template is None:
        return "", "The batch's template was deleted, so the body cannot be rendered."
    rendered = template_render(
        body=batch.template.body, context=message.context, recipient=message.recipient
    )
    return rendered.body, f"{rendered.problem}." if rendered.problem else ""


_RETRY_KINDS = {
    Source.RETRY: "by the retry cycle",
    Source.MANUAL: "one-click or bulk",
    Source.DLQ_REPLAY: "DLQ replay",
}


def message_retries(message: MessageLog) -> dict:
    """Its retries as the overview counts them (selectors.RETRY_FIGURES): the
    attempts made after it was sent again, by any route, per route."""
    rows = selectors.message_retries_by_source(message)
    kinds = [{"label": _RETRY_KINDS.get(r["source"], r["source"]), "n": r["n"]} for r in rows]
    return {"total": sum(k["n"] for k in kinds), "kinds": kinds}


def retry_outlook(message: MessageLog, next_cycle: datetime | None) -> str:
    """When, if ever, the retry cycle will pick this message up."""
    limit = policy.max_retries()
    if message.status != Status.FAILED:
        return ""
    if policy.is_exhausted(message.retry_count):
        return f"Out of retries ({message.retry_count} of {limit}): the next cycle gives up on it."
    eligible = policy.retry_due_at(updated_at=message.updated_at, next_retry=message.next_retry_at)
    text = f"Retry {message.retry_count + 1} of {limit} is due from {stamp(eligible)}"
    if next_cycle:
        text += f"; the next retry cycle runs at {stamp(next_cycle)}"
    return text + "."
