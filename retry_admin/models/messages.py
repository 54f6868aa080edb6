"""Message logs, their delivery attempts and timeline events.

The ``MessageLog`` row is the truth about a message; queue envelopes only
point at it."""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from retry_admin import policy
from retry_admin.models.campaigns import Batch
from retry_admin.models.ids import new_message_id


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


# The logs with an error signature: every failure, never a first send. A
# query of the two indexes with this condition must repeat it (``signed()``):
# SQLite uses a partial index only for a WHERE clause that names its condition.
SIGNED = ~Q(error_signature="")


class MessageLogQuerySet(models.QuerySet):
    def needing_dispatch(self, *, older_than: datetime | None = None) -> "MessageLogQuerySet":
        """Pending logs that never reached the queue (the outbox)."""
        qs = self.filter(status=Status.PENDING, enqueued_at__isnull=True)
        if older_than is not None:
            qs = qs.filter(updated_at__lte=older_than)
        return qs

    def mark_enqueued(self, now: datetime) -> int:
        return self.update(enqueued_at=now, updated_at=now)

    def signed(self) -> "MessageLogQuerySet":
        """Only the logs with an error signature (``SIGNED``)."""
        return self.filter(SIGNED)

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
        # A first send leases a pending log and marks it sent; every index
        # holding a column it sets is rewritten for it (on PostgreSQL every
        # index whose condition holds, as the row moves). So the indexes that
        # serve failures hold only failures: conditions on status, on an
        # error signature (every failure has one, a first send none) and on
        # the send's source (a first send's is "queue").
        indexes = [
            # The retry selection (failed, retry_count < max, updated_at <=
            # cutoff) and the logs out of retries, of the failed logs only.
            models.Index(
                fields=["status", "retry_count", "updated_at"],
                name="msg_status_retry",
                condition=policy.FAILED_Q,
            ),
            # How many of each status were re-enqueued (by any route): with
            # msg_status_id below, the status counts read indexes only.
            # (enqueue_source too: SQLite reads a column of a partial index's
            # condition from the table unless the index holds it.)
            models.Index(
                fields=["status", "enqueue_source"],
                name="msg_retried_status",
                condition=~Q(enqueue_source="queue"),
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
                condition=SIGNED,
            ),
            # error filter without a status.
            models.Index(
                fields=["error_signature", "id"], name="msg_signature_id", condition=SIGNED
            ),
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

    # No index of their own: every read of attempts is by message (its
    # timeline, first errors, retention's deletes, the cascade), which the
    # (message, number) index below serves, and nothing reads them by date.
    # Each index is one more b-tree insert per delivery on the sender's path.
    message = models.ForeignKey(
        MessageLog, on_delete=models.CASCADE, related_name="attempts", db_index=False
    )
    number = models.PositiveIntegerField()
    source = models.CharField(max_length=20, choices=Source.choices)
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    error = models.TextField(blank=True, default="")
    duration_ms = models.FloatField()
    created_at = models.DateTimeField(default=timezone.now)

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
