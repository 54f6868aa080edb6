"""Creating batches: recipients stream in, are checked and written a chunk
at a time in one transaction, then dispatched.

Memory does not grow with the batch: rows are read from an iterable (a CSV
file being parsed, a list from the API), checked one by one, de-duplicated
against a temporary table of the transaction's connection, and written
``CHUNK_ROWS`` at a time. A bad line anywhere rolls everything back: the
batch is written whole or not at all, and every bad line is reported.
"""

import hashlib
import itertools
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from retry_admin.channels import Channel, get_channel
from retry_admin.channels.registry import CHANNELS
from retry_admin.logevents import log_event
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
from retry_admin.services.envelopes import envelope_bodies

logger = logging.getLogger(__name__)

MAX_RECIPIENT_LENGTH = 320
# Rows checked, de-duplicated and written at a time.
CHUNK_ROWS = 5000
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


class TooManyRecipients(BatchValidationError):
    """More unique recipients than ``MAX_BATCH_RECIPIENTS`` (the API answers 413)."""


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


class _Checker:
    """Checks rows one at a time as they stream in. Keeps only what a report
    needs: the errors, and the lines missing each placeholder."""

    def __init__(self, template_body: str, channel: Channel | None = None) -> None:
        # The channel's own rule for addresses, if it has one (whatsapp: a
        # phone number); no call per row for channels that take any address.
        own = channel is not None and (
            type(channel).recipient_problem is not Channel.recipient_problem
        )
        self.channel_problem = channel.recipient_problem if own else None
        self.errors: list[LineError] = []
        self.needed = sorted(template_placeholders(template_body) - {"recipient"})
        self.missing: dict[str, list[int]] = {name: [] for name in self.needed}
        self.passed = 0  # lines whose recipient and context are fine

    def check(self, row: "RecipientRow | LineError") -> str | None:
        """The row's recipient, stripped; None for a line that is refused
        outright (a ``LineError`` in the stream is a line that did not parse)."""
        if isinstance(row, LineError):
            self.errors.append(row)
            return None
        recipient = row.recipient.strip() if isinstance(row.recipient, str) else ""
        problem = _recipient_problem(recipient) or _context_problem(row.context)
        if problem is None and self.channel_problem is not None:
            problem = self.channel_problem(recipient)
        if problem:
            self.errors.append(LineError(row.line, problem))
            return None
        self.passed += 1
        for name in self.needed:
            if name not in row.context:
                self.missing[name].append(row.line)
            elif _blank(row.context[name]):
                self.errors.append(LineError(row.line, f"empty value for placeholder {name!r}"))
        return recipient

    def finish(self, *, unique: int) -> list[LineError]:
        """Every error, by line, once the last row has been checked."""
        errors = list(self.errors)
        for name, lines in sorted(self.missing.items()):
            if not lines:
                continue
            if len(lines) >= self.passed:
                errors.append(
                    LineError(
                        0,
                        f"Unknown placeholder {{{{ {name} }}}}: the recipients have no "
                        f"{name!r} column",
                    )
                )
            else:
                errors.extend(
                    LineError(line, f"no value for placeholder {name!r}") for line in lines
                )
        if not unique and not errors:
            errors.append(LineError(0, "No recipients: add at least one"))
        errors.sort(key=lambda e: e.line)
        return errors


def _with_too_many(errors: list[LineError], unique: int) -> list[LineError]:
    too_many = LineError(0, f"Too many recipients: {unique} > {settings.MAX_BATCH_RECIPIENTS}")
    return sorted([*errors, too_many], key=lambda e: e.line)


def channel_unavailable(channel: str) -> str | None:
    """Why no batch can be sent on ``channel`` from this server (unknown, or
    its settings missing), or None. The form does not offer such channels."""
    if channel not in CHANNELS:
        return f"Unknown channel {channel!r}; known: {', '.join(sorted(CHANNELS))}"
    if channel == "webhook" and not settings.WEBHOOK_URL:
        return "The webhook channel needs WEBHOOK_URL to be set"
    if channel == "whatsapp" and not (
        settings.WHATSAPP_PHONE_NUMBER_ID and settings.WHATSAPP_ACCESS_TOKEN
    ):
        return (
            "The whatsapp channel needs WHATSAPP_PHONE_NUMBER_ID and "
            "WHATSAPP_ACCESS_TOKEN to be set"
        )
    return None


def validate_recipients(
    rows: Iterable[RecipientRow], *, template_body: str
) -> tuple[list[RecipientRow], int]:
    """Check rows held in memory; returns (unique rows, duplicates removed) or
    raises ``BatchValidationError`` listing every bad line (what
    ``batch_create`` checks as it streams)."""
    checker = _Checker(template_body)
    unique: list[RecipientRow] = []
    seen: set[str] = set()
    duplicates = 0
    for row in rows:
        recipient = checker.check(row)
        if recipient is None:
            continue
        key = recipient.casefold()
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        unique.append(RecipientRow(row.line, recipient, dict(row.context)))
    errors = checker.finish(unique=len(unique))
    if len(unique) > settings.MAX_BATCH_RECIPIENTS:
        raise TooManyRecipients(_with_too_many(errors, len(unique)))
    if errors:
        raise BatchValidationError(errors)
    return unique, duplicates


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
    digest = _digest(name, template, channel, priority) if idempotency_key else None
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
            written = _write_logs(batch, recipients, digest)
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


@dataclass
class _Written:
    unique: int = 0
    duplicates: int = 0
    enqueued: bool = False  # every log is on the queue (the db queue, same transaction)


def _chunks(rows: Iterable, size: int) -> Iterator[list]:
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _write_logs(batch: Batch, rows: Iterable, digest) -> _Written:
    """Check, de-duplicate and write the rows a chunk at a time; raises
    ``BatchValidationError`` (the caller's transaction then writes nothing)
    once every row has been checked, if any was bad. On the db queue each
    chunk is enqueued in the same transaction; if the queue refuses, the rest
    are left in the outbox."""
    checker = _Checker(batch.template.body, get_channel(batch.channel))
    backend = get_backend()
    written = _Written(enqueued=backend.transactional)
    maximum = settings.MAX_BATCH_RECIPIENTS
    now = timezone.now()
    with _SeenKeys() as seen:
        for chunk in _chunks(rows, CHUNK_ROWS):
            fresh: dict[str, tuple[str, Mapping]] = {}  # first of each recipient in the chunk
            for row in chunk:
                if digest is not None and not isinstance(row, LineError):
                    _digest_row(digest, row)
                recipient = checker.check(row)
                if recipient is None:
                    continue
                key = recipient.casefold()
                if key in fresh:
                    written.duplicates += 1
                else:
                    fresh[key] = (recipient, row.context)
            new = seen.add(list(fresh))
            written.duplicates += len(fresh) - len(new)
            written.unique += len(new)
            if checker.errors or written.unique > maximum:
                continue  # refused already: go on checking, write no more
            todo = [value for key, value in fresh.items() if key in new]
            ids = new_message_ids(len(todo))
            insert_rows(
                MessageLog,
                ["id", "recipient", "context"],
                (
                    (pk, recipient, dict(context))
                    for pk, (recipient, context) in zip(ids, todo, strict=True)
                ),
                batch_id=batch.pk,
                created_at=now,
                updated_at=now,
                enqueued_at=now if written.enqueued else None,
            )
            if written.enqueued:
                written.enqueued = _enqueue_in_transaction(backend, batch, ids, todo)
    errors = checker.finish(unique=written.unique)
    if written.unique > maximum:
        raise TooManyRecipients(_with_too_many(errors, written.unique))
    if errors:
        raise BatchValidationError(errors)
    return written


class _SeenKeys:
    """The recipients (case-folded) already in the batch being written, in a
    temporary table of this connection: constant memory in the process
    however large the batch. ``add`` returns which of the keys were new."""

    TABLE = "retry_admin_batch_keys"

    def __enter__(self) -> "_SeenKeys":
        self.sqlite = connection.vendor == "sqlite"
        self.cursor = connection.cursor()
        if self.sqlite:
            self.name = f"temp.{self.TABLE}"
            create = f"CREATE TEMP TABLE {self.TABLE} (key TEXT PRIMARY KEY) WITHOUT ROWID"
            rows = "SELECT value FROM json_each(%s) WHERE true"  # WHERE: see SQLite's upsert
        else:
            self.name = f"pg_temp.{self.TABLE}"
            create = f"CREATE TEMP TABLE {self.TABLE} (key text PRIMARY KEY) ON COMMIT DROP"
            rows = "SELECT unnest(%s::text[])"
        self.cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
        self.cursor.execute(create)
        self.sql = f"INSERT INTO {self.name} (key) {rows} ON CONFLICT DO NOTHING RETURNING key"
        return self

    def add(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        self.cursor.execute(self.sql, [json.dumps(keys) if self.sqlite else keys])
        return {key for (key,) in self.cursor.fetchall()}

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:  # after an error the transaction rolls it back
                self.cursor.execute(f"DROP TABLE {self.name}")
        finally:
            self.cursor.close()


def _digest(name: str, template: Template, channel: str, priority: int):
    digest = hashlib.sha256()
    head = [(name or "").strip(), template.pk, channel, priority]
    digest.update(json.dumps(head, ensure_ascii=False).encode())
    return digest


def _digest_row(digest, row: RecipientRow) -> None:
    item = [row.recipient, row.context]
    digest.update(json.dumps(item, sort_keys=True, ensure_ascii=False, default=str).encode())


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
    digest = _digest(name, template, channel, priority)
    for row in rows:
        if not isinstance(row, LineError):
            _digest_row(digest, row)
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
    fingerprint = _fingerprint(name, template, channel, priority, recipients)
    return (
        Batch.objects.filter(
            created_by=user.pk, created_at__gte=since, request_fingerprint=fingerprint
        )
        .order_by("-id")
        .first()
    )


def _replay(existing: Batch, key: str, fingerprint: str) -> BatchCreateResult:
    # Batches from before fingerprints were kept have none: they replay as before.
    if existing.request_fingerprint and existing.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused(existing, key)
    return BatchCreateResult(existing, created=False)


def _enqueue_in_transaction(
    backend: QueueBackend, batch: Batch, ids: list, rows: list[tuple[str, Mapping]]
) -> bool:
    """Enqueue a chunk of a new batch inside its transaction; False (and the
    chunk's logs back in the outbox) if the queue refused, so nothing is lost
    either way."""
    contexts = None
    if settings.QUEUE_ENVELOPE == "full":  # spares reading them back
        contexts = {pk: context for pk, (_, context) in zip(ids, rows, strict=True)}
    sendable, bodies, _ = envelope_bodies(
        backend,
        [
            (pk, batch.pk, recipient, batch.template_id, 0, batch.priority)
            for pk, (recipient, _) in zip(ids, rows, strict=True)
        ],
        contexts=contexts,
    )
    ids = [row[0] for row in sendable]  # a body too large failed its message (envelopes.py)
    try:
        with transaction.atomic():
            results = send_all(backend, bodies, priority=batch.priority)
    except QueueError as exc:
        log_event(
            logger,
            logging.ERROR,
            "queue.send_failed",
            "Queue unavailable while creating batch %s: %s; its messages stay in the outbox",
            batch.pk,
            exc,
            batch=batch.pk,
            count=len(ids),
            error=str(exc),
        )
        MessageLog.objects.filter(id__in=ids).update(enqueued_at=None)
        return False
    refused = [pk for pk, result in zip(ids, results, strict=True) if not result.ok]
    if refused:
        MessageLog.objects.filter(id__in=refused).update(enqueued_at=None)
        return False
    return True
