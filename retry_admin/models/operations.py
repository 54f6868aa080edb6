"""Retry runs, the audit log, heartbeats, job locks, hourly counts and the
Table Storage mirror's watermark."""

from datetime import UTC, datetime

from django.conf import settings
from django.db import connections, models, router, transaction
from django.db.models import Sum
from django.utils import timezone


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
    # Eligible (and valid) messages a cycle capped by RETRY_CYCLE_LIMIT left
    # for the next one; 0 when it took them all.
    left = models.PositiveIntegerField(default=0)
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
        ALERT_FIRED = "alert_fired", "An alert fired"
        ALERT_RESOLVED = "alert_resolved", "An alert resolved"
        ALERT_RULE = "alert_rule", "Changed an alert rule"
        RETENTION_CLEANUP = "retention_cleanup", "Deleted expired failed messages"

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
    24-hour chart never scans the attempts table. Retention folds expired
    hours into one row at ``CARRY_HOUR`` (``fold_before``), so the sums over
    all rows only ever grow: /metrics serves them as counters."""

    CARRY_HOUR = datetime(1970, 1, 1, tzinfo=UTC)

    hour = models.DateTimeField(primary_key=True)
    sent = models.PositiveBigIntegerField(default=0)
    failed = models.PositiveBigIntegerField(default=0)
    permanently_failed = models.PositiveBigIntegerField(default=0)
    dead_lettered = models.PositiveBigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}:00 sent={self.sent} failed={self.failed}"

    @classmethod
    def add(cls, **increments: int) -> None:
        """Add to this hour's counts (``sent=3, failed=1``): one upsert
        statement whatever the size (SQLite and PostgreSQL both know
        ``ON CONFLICT … DO UPDATE``)."""
        increments = {name: value for name, value in increments.items() if value}
        if not increments:
            return
        unknown = set(increments) - COUNTED
        if unknown:
            raise ValueError(f"not an hourly count: {', '.join(sorted(unknown))}")
        hour = timezone.now().replace(minute=0, second=0, microsecond=0)
        table, names = cls._meta.db_table, sorted(increments)
        connection = connections[router.db_for_write(cls)]
        sql = (
            f"INSERT INTO {table} (hour, {', '.join(COUNTED_ORDER)})"
            f" VALUES (%s{', %s' * len(COUNTED_ORDER)})"
            f" ON CONFLICT (hour) DO UPDATE SET "
            + ", ".join(f"{n} = {table}.{n} + excluded.{n}" for n in names)
        )
        params = [connection.ops.adapt_datetimefield_value(hour)]
        params += [increments.get(name, 0) for name in COUNTED_ORDER]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)

    @classmethod
    def fold_before(cls, cutoff: datetime) -> int:
        """Add the hours before ``cutoff`` into the carry row and delete them;
        returns how many hours were folded. Only the current hour is ever
        written to, so nothing races with this."""
        with transaction.atomic():
            old = cls.objects.filter(hour__lt=cutoff, hour__gt=cls.CARRY_HOUR)
            totals = old.aggregate(**{name: Sum(name) for name in COUNTED_ORDER})
            hours = old.count()
            if hours:
                carry, _ = cls.objects.select_for_update().get_or_create(hour=cls.CARRY_HOUR)
                for name in COUNTED_ORDER:
                    setattr(carry, name, getattr(carry, name) + (totals[name] or 0))
                carry.save()
                old.delete()
        return hours


COUNTED_ORDER = ("sent", "failed", "permanently_failed", "dead_lettered")
COUNTED = frozenset(COUNTED_ORDER)


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
