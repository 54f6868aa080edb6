"""The domain: templates, batches, message logs and what happens to them.

The ``MessageLog`` row is the truth about a message; queue envelopes only point
at it. Status changes are bulk, set-based operations on ``MessageLogQuerySet``
so that every rule about a transition has one home and no caller updates
statuses one row at a time.
"""

import itertools
import os
import re
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DEFAULT_DB_ALIAS, connections, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from retry_admin import policy
from retry_admin.channels.registry import CHANNEL_CHOICES

# Templates

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def template_placeholders(body: str) -> set[str]:
    return set(PLACEHOLDER_RE.findall(body))


def validate_template_body(body: str) -> None:
    """Refuse braces that are not a well-formed ``{{ name }}`` placeholder."""
    stripped = PLACEHOLDER_RE.sub("", body)
    if "{{" in stripped or "}}" in stripped:
        bad = re.search(r"\{\{[^}]*\}?\}?", stripped)
        fragment = bad.group(0) if bad else "{{"
        raise ValidationError(
            "Malformed placeholder %(fragment)s: use {{ name }} with letters, digits and _.",
            params={"fragment": fragment},
            code="malformed_placeholder",
        )


def render_template(body: str, context: dict, recipient: str) -> str:
    values = {**context, "recipient": recipient}

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return str(values[name])

    return PLACEHOLDER_RE.sub(substitute, body)


class Template(models.Model):
    name = models.CharField(max_length=200, unique=True)
    body = models.TextField(validators=[validate_template_body])
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def render(self, context: dict, recipient: str) -> str:
        return render_template(self.body, context, recipient)


# Batches


class Batch(models.Model):
    name = models.CharField(max_length=200)
    # SET_NULL, not CASCADE: a deleted template must leave its failed messages
    # visible so the retry cycle can mark them permanently failed (seed rule).
    template = models.ForeignKey(Template, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(max_length=40, choices=CHANNEL_CHOICES)
    priority = models.SmallIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    idempotency_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    # What the idempotency key was first used for, so a reuse with other input
    # is refused instead of answered with this batch (empty: created without a key).
    request_fingerprint = models.CharField(max_length=64, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"


# Message logs


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    PERMANENTLY_FAILED = "permanently_failed", "Permanently failed"
    DEAD_LETTERED = "dead_lettered", "Dead-lettered"


class Source(models.TextChoices):
    """Why a message was (re-)enqueued: the source of the attempt that follows."""

    QUEUE = "queue", "First send"
    RETRY = "retry", "Retry cycle"
    MANUAL = "manual", "Manual retry"
    DLQ_REPLAY = "dlq_replay", "DLQ replay"


def new_message_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): random enough to be an idempotency key, and ordered
    by creation time so keyset pagination by id is newest-first for free."""
    return new_message_ids(1)[0]


def new_message_ids(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one read of the OS random source."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    head = (ms << 80) | (0x7 << 76)
    entropy = os.urandom(10 * count)
    values = []
    for start in range(0, 10 * count, 10):
        rand = int.from_bytes(entropy[start : start + 10], "big")
        values.append(
            head | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
        )
    # Monotonic within the millisecond (RFC 9562 §6.2): inserted in this order
    # they append to the primary key index instead of landing at random.
    values.sort()
    return [uuid.UUID(int=value) for value in values]


_SIGNATURE_RULES = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (
        re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I),
        "<id>",
    ),
    # Anything host:port-like (a name with a dot, digits and dots, [IPv6] or
    # localhost, then a port), valid address or not, and dotted quads without a port.
    (
        re.compile(
            r"(?:\[[0-9a-f:.]+\]|\blocalhost|\b[\w-]+(?:\.[\w-]+)+)(?::\d{1,5})\b"
            r"|\b\d+(?:\.\d+){3,}\b",
            re.I,
        ),
        "<host>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # HTTP statuses keep their class: a 4xx is not the same failure as a 5xx.
    (re.compile(r"\b(HTTP\s*)([1-5])\d\d\b", re.I), r"\g<1><\g<2>xx>"),
    # Any other number, however long or punctuated (a phone number, 3000 or
    # 12.5, alone or inside a word like shard-12 or 30s), is one token.
    (re.compile(r"(?<!<)\+?\d(?:[\d\s().-]*\d)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def error_signature(error: str) -> str:
    """Normalise an error so that failures differing only by ids, numbers and
    addresses group together on the failures page."""
    text = error.strip()
    for pattern, replacement in _SIGNATURE_RULES:
        text = pattern.sub(replacement, text)
    return text[:255]


class MessageLogQuerySet(models.QuerySet):
    def needing_dispatch(self, *, older_than: datetime | None = None) -> "MessageLogQuerySet":
        """Pending logs that never reached the queue (the outbox)."""
        qs = self.filter(status=Status.PENDING, enqueued_at__isnull=True)
        if older_than is not None:
            qs = qs.filter(updated_at__lte=older_than)
        return qs

    def mark_enqueued(self, now: datetime) -> int:
        return self.update(enqueued_at=now, updated_at=now)

    def mark_dead_lettered(self, now: datetime, reason: str) -> int:
        return self.exclude(status=Status.SENT).update(
            status=Status.DEAD_LETTERED,
            last_error=reason,
            error_signature=error_signature(reason),
            updated_at=now,
            lease_token=None,
            lease_expires_at=None,
            dead_letter_count=F("dead_letter_count") + 1,
        )

    def eligible_for_retry(self, now: datetime) -> "MessageLogQuerySet":
        """What the retry cycle may take now (``policy.eligible_q``)."""
        return self.filter(policy.eligible_q(now))

    def out_of_retries(self) -> "MessageLogQuerySet":
        """Failed logs that can never be retried (``policy.never_retried_q``)."""
        return self.filter(policy.never_retried_q())


class MessageLog(models.Model):
    id = models.UUIDField(primary_key=True, default=new_message_id, editable=False)
    # No index of its own: (batch, status) and (batch, id) below start with it.
    batch = models.ForeignKey(
        Batch, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    recipient = models.CharField(max_length=320)
    context = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    retry_count = models.PositiveIntegerField(default=0)
    receive_count = models.PositiveIntegerField(default=0)
    attempt_count = models.PositiveIntegerField(default=0)
    dead_letter_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    error_signature = models.CharField(max_length=255, blank=True, default="")
    enqueue_source = models.CharField(max_length=20, choices=Source.choices, default=Source.QUEUE)
    next_retry_at = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A short lease taken by the sender while it delivers, so that two copies of
    # one envelope received by two workers at once cannot both send.
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # No index: ids are UUIDv7, so creation order and date ranges are id ranges.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = MessageLogQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The retry selection (failed, retry_count < max, updated_at <=
            # cutoff); with enqueue_source last it also covers the status
            # counts and how many of each were retried (by any route).
            models.Index(
                fields=["status", "retry_count", "updated_at", "enqueue_source"],
                name="msg_status_retry_source",
            ),
            # Per-batch progress (counts by status of a batch).
            models.Index(fields=["batch", "status"], name="msg_batch_status"),
            # The messages page lists newest first (ORDER BY id DESC, LIMIT 51)
            # and a date range is an id range (UUIDv7), so each filter needs an
            # index ending in id to walk in order and stop after one page:
            # status filter (+ dates).
            models.Index(fields=["status", "id"], name="msg_status_id"),
            # batch filter (+ dates).
            models.Index(fields=["batch", "id"], name="msg_batch_id"),
            # The failures page's status + error filter, in id order; with
            # updated_at last it also covers the failure groups (count and
            # first/last seen per signature) without reading the table.
            models.Index(
                fields=["status", "error_signature", "id", "updated_at"],
                name="msg_status_signature",
            ),
            # error filter without a status.
            models.Index(fields=["error_signature", "id"], name="msg_signature_id"),
            # recipient prefix filter: the page reads the ids of a prefix's
            # matches from this index alone, then fetches one page of them.
            models.Index(fields=["recipient", "id"], name="msg_recipient"),
            # The outbox: pending logs that never reached the queue.
            models.Index(
                fields=["updated_at"],
                name="msg_outbox",
                condition=Q(status="pending", enqueued_at__isnull=True),
            ),
            # The Table Storage mirror walks changes by (updated_at, id) from
            # its watermark.
            models.Index(fields=["updated_at", "id"], name="msg_updated_id"),
        ]

    def __str__(self) -> str:
        return f"{self.recipient} [{self.status}]"


class DeliveryAttempt(models.Model):
    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"
        TRANSIENT = "transient", "Transient failure"
        PERMANENT = "permanent", "Permanent failure"

    message = models.ForeignKey(MessageLog, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=20, choices=Source.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["message", "number"]
        indexes = [models.Index(fields=["message", "number"], name="attempt_message_number")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.message_id}: {self.outcome}"


class MessageEvent(models.Model):
    """What happened to a message besides its delivery attempts (requeued by a
    retry run, retried by someone, dead-lettered, replayed, purged), for its
    timeline. Services write these in bulk, one insert per chunk."""

    class Kind(models.TextChoices):
        RETRY_CYCLE = "retry_cycle", "Requeued by the retry cycle"
        MANUAL_RETRY = "manual_retry", "Manual retry"
        DEAD_LETTERED = "dead_lettered", "Moved to the dead-letter queue"
        DLQ_REPLAY = "dlq_replay", "Replayed from the dead-letter queue"
        DLQ_PURGE = "dlq_purge", "Purged from the dead-letter queue"

    # No database constraint: benchmarks and retention delete logs with plain
    # DELETEs; the ORM still cascades when a log is deleted through it.
    message = models.ForeignKey(
        MessageLog, on_delete=models.CASCADE, related_name="events", db_constraint=False
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor_name = models.CharField(max_length=150, blank=True, default="")
    detail = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            # A bulk retry's progress: the messages it retried, by kind and time.
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.message_id}"


# Runs, audit, heartbeats, locks


class RetryRun(models.Model):
    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "Schedule"
        API = "api", "API"
        CONSOLE = "console", "Console"
        COMMAND = "command", "Command"

    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    dry_run = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    selected = models.PositiveIntegerField(default=0)
    requeued = models.PositiveIntegerField(default=0)
    still_failed = models.PositiveIntegerField(default=0)
    permanently_failed = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"retry run {self.pk} ({self.trigger}, {self.started_at:%Y-%m-%d %H:%M})"

    @property
    def duration_seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        BATCH_CREATE = "batch_create", "Created a batch"
        MESSAGE_RETRY = "message_retry", "Retried messages"
        DLQ_REPLAY = "dlq_replay", "Replayed the DLQ"
        DLQ_PURGE = "dlq_purge", "Purged the DLQ"
        RETRY_CYCLE = "retry_cycle", "Triggered a retry cycle"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=30, choices=Action.choices)
    target = models.CharField(max_length=255, blank=True, default="")
    count = models.PositiveIntegerField(default=0)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.actor_name} {self.action} {self.target}"


class Heartbeat(models.Model):
    """Last sign of life of a long-running part (``scheduler``, ``sender``)."""

    name = models.CharField(max_length=50, primary_key=True)
    beat_at = models.DateTimeField()
    details = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return f"{self.name} at {self.beat_at}"


class ProcessLock(models.Model):
    """A named lease so that runs of one job never overlap across processes."""

    name = models.CharField(max_length=100, primary_key=True)
    token = models.CharField(max_length=64)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"lock {self.name} until {self.expires_at}"


class HourlyCount(models.Model):
    """Outcomes per hour, kept by the sender (one upsert per chunk) so the
    24-hour chart never scans the attempts table."""

    hour = models.DateTimeField(primary_key=True)
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    permanently_failed = models.PositiveIntegerField(default=0)
    dead_lettered = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 sent={self.sent} failed={self.failed}"

    @classmethod
    def add(cls, **increments: int) -> None:
        """Add to this hour's counts (``sent=3, failed=1``); two queries whatever the size."""
        increments = {name: value for name, value in increments.items() if value}
        if not increments:
            return
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        cls.objects.get_or_create(hour=hour)
        cls.objects.filter(hour=hour).update(
            **{name: F(name) + value for name, value in increments.items()}
        )


# The embedded queue's table


class QueueMessage(models.Model):
    """One message of the ``db`` queue backend. ``dead`` is its DLQ."""

    queue = models.CharField(max_length=100)
    body = models.TextField()
    dead = models.BooleanField(default=False)
    priority = models.SmallIntegerField(default=0)
    visible_at = models.DateTimeField()
    receive_count = models.PositiveIntegerField(default=0)
    receipt = models.CharField(max_length=32, null=True, blank=True)  # noqa: DJ001 (NULL: not received)
    created_at = models.DateTimeField(default=timezone.now)
    dead_at = models.DateTimeField(null=True, blank=True)
    dead_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [
            models.Index(
                fields=["queue", "dead", "-priority", "visible_at", "id"], name="queue_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.queue} #{self.pk}{' (dead)' if self.dead else ''}"


# The Azure Table Storage mirror


class MirrorWatermark(models.Model):
    """How far the Table Storage mirror has got with one table: every row
    changed before ``watermark`` (less the safety lag) is in Table Storage."""

    table = models.CharField(max_length=50, primary_key=True)
    watermark = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    rows_written = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"mirror {self.table} up to {self.watermark}"


# Bulk inserts


def _fast_prep(field: models.Field, connection) -> Callable:
    """The field's own preparation, short-cut for the values that need none:
    text already ``str``, and a UUID on a database without a native type (what
    Django would make of it: its hex). Per value this is most of the cost."""
    prep = field.get_db_prep_save
    if isinstance(field, models.CharField | models.TextField) and not field.choices:
        return lambda value, conn: value if type(value) is str else prep(value, conn)
    if isinstance(field, models.UUIDField) and not connection.features.has_native_uuid_field:
        return lambda value, conn: value.hex if type(value) is uuid.UUID else prep(value, conn)
    return prep


def insert_rows(model: type[models.Model], fields: list[str], rows, **shared) -> int:
    """INSERT rows of ``model`` fast: one prepared statement run for every row
    (``executemany``), or on PostgreSQL a ``COPY`` per chunk of rows.

    ``fields`` name the values of each row in ``rows``, in order; ``shared``
    gives values common to every row; every other field takes its default (a
    callable default is called per row, as ``bulk_create`` does). Each value is
    prepared by its field exactly as ``bulk_create`` prepares it, shared ones
    once. For the hot append-only tables (logs, queue rows, attempts, events):
    at 100,000 rows ``bulk_create`` spends most of its time building model
    instances and compiling every value of every row, in statements of only
    999 parameters on SQLite. Runs no ``pre_save`` (``auto_now`` fields must be
    given) and returns no primary keys: give ``id`` in ``fields`` if you need it.
    """
    opts = model._meta
    # The thread's own connection, not the proxy: it is asked for once per value.
    connection = connections[DEFAULT_DB_ALIAS]
    per_row = [opts.get_field(name) for name in fields]
    given = {opts.get_field(name): value for name, value in shared.items()}
    per_row_defaults, constant = [], []
    for field in opts.concrete_fields:
        if field in per_row:
            continue
        if field in given:
            constant.append((field, field.get_db_prep_save(given[field], connection)))
        elif field.db_returning:  # the auto-increment primary key
            continue
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            raise TypeError(f"insert_rows runs no pre_save: give {model.__name__}.{field.name}")
        elif field.has_default() and callable(field.default):
            per_row_defaults.append(field)
        else:
            constant.append((field, field.get_db_prep_save(field.get_default(), connection)))
    ordered = [*per_row, *per_row_defaults, *(f for f, _ in constant)]
    quote = connection.ops.quote_name
    table, columns = quote(opts.db_table), ", ".join(quote(f.column) for f in ordered)
    # executemany is a round trip per row on PostgreSQL: there, COPY (psycopg
    # streams the rows; UNNEST of arrays spent most of its time escaping them).
    copy = connection.vendor == "postgresql"
    if copy:
        sql = f"COPY {table} ({columns}) FROM STDIN"
    else:
        sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(ordered))})"
    size = 5000
    prepare = [_fast_prep(field, connection) for field in per_row]
    tail = tuple(value for _, value in constant)
    rows = iter(rows)
    count = 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        while chunk := list(itertools.islice(rows, size)):
            params = [
                (
                    *[prep(value, connection) for prep, value in zip(prepare, row, strict=True)],
                    *[f.get_db_prep_save(f.get_default(), connection) for f in per_row_defaults],
                    *tail,
                )
                for row in chunk
            ]
            if copy:
                with cursor.cursor.copy(sql) as stream:
                    for row in params:
                        stream.write_row(row)
            else:
                cursor.executemany(sql, params)
            count += len(params)
    return count
