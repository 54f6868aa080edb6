"""Creating batches: a batch and one pending log per unique recipient, in
one transaction, then dispatched.

A bad line anywhere rolls everything back: the batch is written whole or not
at all, and every bad line is reported. Rows are checked as they stream in
(``batch_rows``) and written a chunk at a time (``batch_writer``), so memory
does not grow with the batch. An idempotency key, or for the console form the
request's content, tells a repeated request from a new one.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from retry_admin.models import AuditEvent, Batch, Template, validate_template_body
from retry_admin.models.bulk import chunks
from retry_admin.services import batch_writer
from retry_admin.services.audit import audit_record
from retry_admin.services.batch_rows import (
    MAX_RECIPIENT_LENGTH,
    BatchValidationError,
    LineError,
    RecipientRow,
    TooManyRecipients,
    channel_unavailable,
    digest_rows,
    request_digest,
    validate_recipients,
)
from retry_admin.services.batch_writer import CHUNK_ROWS, write_logs
from retry_admin.services.dispatch import dispatch_on_commit

__all__ = [
    "CHUNK_ROWS",
    "MAX_RECIPIENT_LENGTH",
    "BatchCreateResult",
    "BatchValidationError",
    "IdempotencyKeyReused",
    "LineError",
    "RecipientRow",
    "TooManyRecipients",
    "batch_create",
    "batch_recent_twin",
    "channel_unavailable",
    "validate_recipients",
]


class IdempotencyKeyReused(Exception):
    """The idempotency key already created ``batch`` from other input; nothing was written."""

    def __init__(self, batch: Batch, key: str) -> None:
        self.batch = batch
        super().__init__(
            f"Idempotency-Key {key!r} was already used for batch #{batch.pk} with a different "
            "request: repeat that request exactly, or use a new key for a new batch."
        )


@dataclass
class BatchCreateResult:
    batch: Batch
    created: bool
    duplicates_removed: int = 0


def batch_create(
    *,
    name: str,
    template: Template,
    recipients: Iterable["RecipientRow | LineError"],
    channel: str | None = None,
    user: AbstractBaseUser | None = None,
    priority: int = 0,
    idempotency_key: str | None = None,
) -> BatchCreateResult:
    """Create a batch and one pending log per unique recipient in one
    transaction, then dispatch them once it commits.

    ``recipients`` is read once, as it comes (a ``LineError`` in it is a line
    that could not be parsed: it is reported with the others). Refuses the
    batch, writing nothing, with ``BatchValidationError`` listing every bad
    line, or ``TooManyRecipients``.

    With an ``idempotency_key`` already used, returns that batch instead, or
    raises ``IdempotencyKeyReused`` if it was created from other input."""
    channel = channel or settings.DEFAULT_CHANNEL
    if idempotency_key:
        used = Batch.objects.filter(idempotency_key=idempotency_key).first()
        if used is not None:
            fingerprint = _fingerprint(name, template, channel, priority, recipients)
            return _replay(used, idempotency_key, fingerprint)
    errors = []
    if not name or not name.strip():
        errors.append(LineError(0, "Batch name is required"))
    if (unavailable := channel_unavailable(channel)) is not None:
        errors.append(LineError(0, unavailable))
    try:
        validate_template_body(template.body)
    except ValidationError as exc:
        errors.append(LineError(0, f"Template {template.name!r}: {exc.messages[0]}"))
    if errors:
        raise BatchValidationError(errors)
    digest = request_digest(name, template.pk, channel, priority) if idempotency_key else None
    started = False
    try:
        with transaction.atomic():
            batch = Batch.objects.create(
                name=name.strip()[:200],
                template=template,
                channel=channel,
                priority=priority,
                total=0,
                idempotency_key=idempotency_key or None,
                created_by=user if user is not None and user.is_authenticated else None,
            )
            started = True
            written = write_logs(batch, recipients, digest)
            batch.total = written.unique
            batch.request_fingerprint = digest.hexdigest() if digest is not None else ""
            batch.save(update_fields=["total", "request_fingerprint"])
            if user is not None:
                audit_record(
                    user=user,
                    action=AuditEvent.Action.BATCH_CREATE,
                    target=f"batch {batch.pk}",
                    count=written.unique,
                    details={
                        "name": batch.name,
                        "channel": channel,
                        "duplicates": written.duplicates,
                    },
                )
            if not written.enqueued:
                dispatch_on_commit(batch_id=batch.pk)
    except IntegrityError:
        # Two requests with one idempotency key raced and the other one won
        # (refused by the key's unique index, before any row was read).
        used = Batch.objects.filter(idempotency_key=idempotency_key).first()
        if started or used is None:
            raise
        return _replay(
            used, idempotency_key, _fingerprint(name, template, channel, priority, recipients)
        )
    return BatchCreateResult(batch, created=True, duplicates_removed=written.duplicates)


def _fingerprint(
    name: str,
    template: Template,
    channel: str,
    priority: int,
    rows: Iterable["RecipientRow | LineError"],
) -> str:
    """One hash of everything a batch is created from (not line numbers or
    how the template was named), for comparing requests that share a key.
    Lines that did not parse are not part of it."""
    digest = request_digest(name, template.pk, channel, priority)
    for chunk in chunks(rows, batch_writer.CHUNK_ROWS):  # as the writer reads them
        digest_rows(digest, chunk)
    return digest.hexdigest()


def batch_recent_twin(
    *,
    user: AbstractBaseUser,
    name: str,
    template: Template,
    channel: str,
    recipients: Iterable["RecipientRow | LineError"],
    within_seconds: int,
    priority: int = 0,
) -> Batch | None:
    """The batch ``user`` created from exactly this input in the last
    ``within_seconds``, if any: a form sent again from the browser's history
    carries a new idempotency key, so only its content can tell it is a repeat."""
    since = timezone.now() - timezone.timedelta(seconds=within_seconds)
    recent = Batch.objects.filter(created_by=user.pk, created_at__gte=since).exclude(
        request_fingerprint=""
    )
    if not recent.exists():
        return None  # nothing to compare with: the rows (a whole file) need not be read
    fingerprint = _fingerprint(name, template, channel, priority, recipients)
    return recent.filter(request_fingerprint=fingerprint).order_by("-id").first()


def _replay(existing: Batch, key: str, fingerprint: str) -> BatchCreateResult:
    # Batches from before fingerprints were kept have none: they replay as before.
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(existing, key)
    return BatchCreateResult(existing, created=False)
