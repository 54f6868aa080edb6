"""Creating batches: validate everything, write everything, then dispatch."""

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from retry_admin.channels.registry import CHANNELS
from retry_admin.envelope import Envelope
from retry_admin.models import (
    AuditEvent,
    Batch,
    MessageLog,
    Template,
    insert_rows,
    new_message_ids,
    template_placeholders,
    validate_template_body,
)
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.services.audit import audit_record
from retry_admin.services.dispatch import dispatch_on_commit, send_all

logger = logging.getLogger(__name__)

MAX_RECIPIENT_LENGTH = 320
# Exactly Unicode category Cc (what unicodedata.category calls control), in C.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based; 0 for an error about the whole batch
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class BatchValidationError(Exception):
    """The batch was refused; nothing was written. ``errors`` says why, per line."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"Batch refused: {shown}{more}")


class IdempotencyKeyReused(Exception):
    """The idempotency key already created ``batch`` from other input; nothing was written."""

    def __init__(self, batch: Batch, key: str) -> None:
        self.batch = batch
        super().__init__(
            f"Idempotency-Key {key!r} was already used for batch #{batch.pk} with a different "
            "request: repeat that request exactly, or use a new key for a new batch."
        )


@dataclass(frozen=True)
class RecipientRow:
    line: int
    recipient: str
    context: Mapping[str, object] = field(default_factory=dict)


@dataclass
class BatchCreateResult:
    batch: Batch
    created: bool
    duplicates_removed: int = 0


def _recipient_problem(value: str) -> str | None:
    if not value:
        return "recipient is empty"
    if len(value) > MAX_RECIPIENT_LENGTH:
        return f"recipient is longer than {MAX_RECIPIENT_LENGTH} characters"
    if _CONTROL_CHARACTERS.search(value):
        return "recipient contains control characters"
    return None


def _context_problem(context: object) -> str | None:
    if not isinstance(context, Mapping):
        return "context must be an object of column → value"
    for key, value in context.items():
        if type(key) is not str or not key:
            return "context keys must be non-empty strings"
        if type(value) not in _SCALARS and not isinstance(value, str | int | float | bool):
            return f"value of {key!r} must be text or a number"
    return None


_SCALARS = frozenset({str, int, float, bool, type(None)})  # the fast path of the check


def _blank(value: object) -> bool:
    """A value that would render as nothing ("Hi , welcome")."""
    return value is None or (isinstance(value, str) and not value.strip())


def validate_recipients(
    rows: Iterable[RecipientRow], *, template_body: str
) -> tuple[list[RecipientRow], int]:
    """Check each line; returns (unique rows, duplicates removed) or raises
    ``BatchValidationError`` listing every bad line."""
    errors: list[LineError] = []
    unique: list[RecipientRow] = []
    seen: set[str] = set()
    duplicates = 0
    needed = template_placeholders(template_body) - {"recipient"}
    missing_per_line: dict[str, list[int]] = {name: [] for name in needed}
    for row in rows:
        recipient = row.recipient.strip() if isinstance(row.recipient, str) else ""
        problem = _recipient_problem(recipient) or _context_problem(row.context)
        if problem:
            errors.append(LineError(row.line, problem))
            continue
        for name in sorted(needed):
            if name not in row.context:
                missing_per_line[name].append(row.line)
            elif _blank(row.context[name]):
                errors.append(LineError(row.line, f"empty value for placeholder {name!r}"))
        key = recipient.casefold()
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        unique.append(RecipientRow(row.line, recipient, dict(row.context)))
    # Counted once: ``errors`` grows inside the loop below.
    valid_lines = len(unique) + duplicates
    for name, lines in sorted(missing_per_line.items()):
        if not lines:
            continue
        if len(lines) >= valid_lines:
            errors.insert(
                0,
                LineError(
                    0,
                    f"Unknown placeholder {{{{ {name} }}}}: the recipients have no {name!r} column",
                ),
            )
        else:
            errors.extend(LineError(line, f"no value for placeholder {name!r}") for line in lines)
    if not unique and not errors:
        errors.append(LineError(0, "No recipients: add at least one"))
    if len(unique) > settings.MAX_BATCH_RECIPIENTS:
        errors.append(
            LineError(0, f"Too many recipients: {len(unique)} > {settings.MAX_BATCH_RECIPIENTS}")
        )
    if errors:
        errors.sort(key=lambda e: e.line)
        raise BatchValidationError(errors)
    return unique, duplicates


def batch_create(
    *,
    name: str,
    template: Template,
    recipients: Iterable[RecipientRow],
    channel: str | None = None,
    user: AbstractBaseUser | None = None,
    priority: int = 0,
    idempotency_key: str | None = None,
) -> BatchCreateResult:
    """Create a batch and one pending log per unique recipient in one
    transaction, then dispatch them once it commits.

    With an ``idempotency_key`` already used, returns that batch instead, or
    raises ``IdempotencyKeyReused`` if it was created from other input."""
    channel = channel or settings.DEFAULT_CHANNEL
    recipients = list(recipients)
    fingerprint = ""
    if idempotency_key:
        fingerprint = _fingerprint(name, template, channel, priority, recipients)
        existing = _replayed(idempotency_key, fingerprint)
        if existing is not None:
            return existing
    errors = []
    if not name or not name.strip():
        errors.append(LineError(0, "Batch name is required"))
    if channel not in CHANNELS:
        errors.append(
            LineError(0, f"Unknown channel {channel!r}; known: {', '.join(sorted(CHANNELS))}")
        )
    if channel == "webhook" and not settings.WEBHOOK_URL:
        errors.append(LineError(0, "The webhook channel needs WEBHOOK_URL to be set"))
    try:
        validate_template_body(template.body)
    except ValidationError as exc:
        errors.append(LineError(0, f"Template {template.name!r}: {exc.messages[0]}"))
    if errors:
        raise BatchValidationError(errors)
    unique, duplicates = validate_recipients(recipients, template_body=template.body)

    now = timezone.now()
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                name=name.strip()[:200],
                template=template,
                channel=channel,
                priority=priority,
                total=len(unique),
                idempotency_key=idempotency_key or None,
                request_fingerprint=fingerprint,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            ids = new_message_ids(len(unique))
            backend = get_backend()
            # The db queue shares this transaction: enqueue here, and the logs
            # and their queue rows commit together (no outbox pass needed).
            # Other transports are reached only after commit (the outbox).
            inline = backend.transactional
            insert_rows(
                MessageLog,
                ["id", "recipient", "context"],
                ((pk, row.recipient, row.context) for pk, row in zip(ids, unique, strict=True)),
                batch_id=batch.pk,
                created_at=now,
                updated_at=now,
                enqueued_at=now if inline else None,
            )
            if user is not None:
                audit_record(
                    user=user,
                    action=AuditEvent.Action.BATCH_CREATE,
                    target=f"batch {batch.pk}",
                    count=len(unique),
                    details={"name": batch.name, "channel": channel, "duplicates": duplicates},
                )
            if not (inline and _enqueue_in_transaction(backend, batch, ids, unique)):
                dispatch_on_commit(batch_id=batch.pk)
    except IntegrityError:
        # Two requests with one idempotency key raced; the other one won.
        existing = _replayed(idempotency_key, fingerprint) if idempotency_key else None
        if existing is not None:
            return existing
        raise
    return BatchCreateResult(batch, created=True, duplicates_removed=duplicates)


def _fingerprint(
    name: str, template: Template, channel: str, priority: int, rows: list[RecipientRow]
) -> str:
    """One hash of everything a batch is created from (not line numbers or
    how the template was named), for comparing requests that share a key."""
    digest = hashlib.sha256()
    head = [(name or "").strip(), template.pk, channel, priority]
    digest.update(json.dumps(head, ensure_ascii=False).encode())
    for row in rows:
        item = [row.recipient, row.context]
        digest.update(json.dumps(item, sort_keys=True, ensure_ascii=False, default=str).encode())
    return digest.hexdigest()


def batch_recent_twin(
    *,
    user: AbstractBaseUser,
    name: str,
    template: Template,
    channel: str,
    recipients: list[RecipientRow],
    within_seconds: int,
    priority: int = 0,
) -> Batch | None:
    """The batch ``user`` created from exactly this input in the last
    ``within_seconds``, if any: a form sent again from the browser's history
    carries a new idempotency key, so only its content can tell it is a repeat."""
    since = timezone.now() - timezone.timedelta(seconds=within_seconds)
    fingerprint = _fingerprint(name, template, channel, priority, recipients)
    return (
        Batch.objects.filter(
            created_by=user.pk, created_at__gte=since, request_fingerprint=fingerprint
        )
        .order_by("-id")
        .first()
    )


def _replayed(key: str, fingerprint: str) -> BatchCreateResult | None:
    existing = Batch.objects.filter(idempotency_key=key).first()
    if existing is None:
        return None
    # Batches from before fingerprints were kept have none: they replay as before.
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(existing, key)
    return BatchCreateResult(existing, created=False)


def _enqueue_in_transaction(
    backend: QueueBackend, batch: Batch, ids: list, rows: list[RecipientRow]
) -> bool:
    """Enqueue a new batch inside its own transaction; False (and the logs back
    in the outbox) if the queue refused, so nothing is lost either way."""
    bodies = [
        Envelope(pk, batch.pk, row.recipient, batch.template_id, 1).encode()
        for pk, row in zip(ids, rows, strict=True)
    ]
    try:
        with transaction.atomic():
            results = send_all(backend, bodies, priority=batch.priority)
    except QueueError as exc:
        logger.warning("Queue unavailable while creating batch %s: %s", batch.pk, exc)
        MessageLog.objects.filter(batch_id=batch.pk).update(enqueued_at=None)
        return False
    refused = [pk for pk, result in zip(ids, results, strict=True) if not result.ok]
    if refused:
        MessageLog.objects.filter(id__in=refused).update(enqueued_at=None)
        return False
    return True
