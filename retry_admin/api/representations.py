"""Response shapes: what the API renders, and what the OpenAPI schema says it
renders. The seed-compatible endpoints keep their camelCase keys and the seed's
timestamp format (``2024-01-15T10:30:00.000Z``); our own resources use the
model's snake_case names and ISO 8601 timestamps."""

from datetime import UTC, datetime

from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

from retry_admin.models import Status

# Seed timestamps: UTC, milliseconds, "Z", whatever the microseconds or TIME_ZONE


def seed_timestamp(moment: datetime) -> str:
    """``2024-01-15T10:30:00.000Z``, the format of the seed designs' examples."""
    if moment.tzinfo is None:  # USE_TZ makes every stored moment aware; be exact anyway
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


class SeedJSONEncoder(JSONEncoder):
    def default(self, obj):
        if isinstance(obj, datetime):
            return seed_timestamp(obj)
        return super().default(obj)


class SeedJSONRenderer(JSONRenderer):
    """Every datetime in a seed-compatible answer in the seed's one format."""

    encoder_class = SeedJSONEncoder


class TimestampField(serializers.DateTimeField):
    """ISO 8601, or the seed format when the serializer's context says
    ``seed_timestamps`` (a resource answered on a seed route)."""

    def to_representation(self, value):
        if value and self.context.get("seed_timestamps"):
            return seed_timestamp(value)
        return super().to_representation(value)


SEED_TIMESTAMP_HELP = "UTC with milliseconds, e.g. 2024-01-15T10:30:00.000Z."

# Errors


class ErrorSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always false.")
    message = serializers.CharField(help_text="What was wrong, in one sentence.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Validation errors by field (`non_field_errors` for the request as a whole).",
    )


ERROR_DESCRIPTIONS = {
    400: "Invalid request: `message` says what was wrong, `errors` names each field.",
    401: "No valid credentials: send `Authorization: Bearer <token>` (or sign in).",
    403: "Signed in, but this account may not do this.",
    404: "Unknown id.",
    409: "The message is not in a state that can be retried.",
    413: "The body is larger than this endpoint takes; `message` states the limit.",
    422: "The Idempotency-Key was already used for a batch created from a different request.",
    503: "The queue or the database is unreachable; `Retry-After` says when to try again.",
}


def errors(*codes: int) -> dict[int, OpenApiResponse]:
    """Documented error responses for ``extend_schema(responses=...)``."""
    return {
        code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
        for code in codes
    }


# Answers to an action: ``success`` and one sentence, then what the action did.


class OutcomeSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    message = serializers.CharField()


# Counts by status


# The message statuses as the schema names them (SPECTACULAR_SETTINGS'
# ENUM_NAME_OVERRIDES): one "MessageStatusEnum" wherever a field takes them.
STATUS_VALUES = Status.values


class StatusCountsSerializer(serializers.Serializer):
    pending = serializers.IntegerField()
    sent = serializers.IntegerField()
    failed = serializers.IntegerField()
    permanently_failed = serializers.IntegerField()
    dead_lettered = serializers.IntegerField()


# Seed-compatible endpoints


def seed_counts(counts: dict[str, int]) -> dict[str, int]:
    """Counts by status with camelCase keys (``permanentlyFailed``), the seed
    answers' one casing."""
    return {_camel(status): count for status, count in counts.items()}


def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.capitalize() for word in rest)


SeedStatusCountsSerializer = type(
    "SeedStatusCountsSerializer",
    (serializers.Serializer,),
    {_camel(status): serializers.IntegerField() for status in Status.values},
)


class RetryTriggeredDataSerializer(serializers.Serializer):
    triggeredAt = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)
    triggeredBy = serializers.CharField(help_text="The caller's email, or username if none.")
    status = serializers.ChoiceField(
        choices=["queued"], help_text="Queued for a live worker, which runs it within seconds."
    )


class RetryCycleResultSerializer(serializers.Serializer):
    run = serializers.IntegerField()
    trigger = serializers.CharField(help_text="schedule, api, console or command.")
    finishedAt = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)
    durationSeconds = serializers.FloatField()
    selected = serializers.IntegerField()
    requeued = serializers.IntegerField()
    stillFailed = serializers.IntegerField()
    permanentlyFailed = serializers.IntegerField()
    skipped = serializers.IntegerField()
    left = serializers.IntegerField(
        help_text="Eligible messages left for the next cycle by RETRY_CYCLE_LIMIT (0: none)."
    )
    error = serializers.CharField(help_text="Empty when the cycle succeeded.")
    success = serializers.BooleanField()


class MessageRetryStatusSerializer(serializers.Serializer):
    isRunning = serializers.BooleanField(help_text="A cycle holds the retry-cycle lock now.")
    currentRunStartedAt = serializers.DateTimeField(allow_null=True)
    lastRun = serializers.DateTimeField(
        allow_null=True, help_text="When the last finished cycle started."
    )
    nextRun = serializers.DateTimeField(
        allow_null=True, help_text="When the schedule runs it next (null: not scheduled)."
    )
    intervalHours = serializers.FloatField(help_text="MESSAGE_RETRY_INTERVAL_HOURS.")
    graceMinutes = serializers.FloatField(help_text="RETRY_CYCLE_GRACE_MINUTES.")
    overdue = serializers.BooleanField(
        help_text="Not running, and late past its interval or its schedule plus the grace."
    )
    lastResult = RetryCycleResultSerializer(allow_null=True)


class RetryStatusSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    messageRetryStatus = MessageRetryStatusSerializer()
    timestamp = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)


class RetryTriggeredSerializer(OutcomeSerializer):
    data = RetryTriggeredDataSerializer()


class RetryDryRunDataSerializer(serializers.Serializer):
    dryRun = serializers.BooleanField()
    checkedAt = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)
    triggeredBy = serializers.CharField()
    selected = serializers.IntegerField(help_text="Failed messages eligible for a retry now.")
    requeued = serializers.IntegerField(help_text="How many a cycle would requeue now.")
    skipped = serializers.IntegerField(
        help_text="Eligible but invalid (no recipient, bad context)."
    )
    permanentlyFailed = serializers.IntegerField(
        help_text="Failed messages out of retries (or whose batch/template is gone)."
    )
    left = serializers.IntegerField(
        help_text="Eligible messages a cycle now would leave for the next (RETRY_CYCLE_LIMIT)."
    )


class RetryDryRunSerializer(OutcomeSerializer):
    data = RetryDryRunDataSerializer()


class QueueStatusSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    queueLength = serializers.IntegerField(
        help_text="Messages waiting on the main queue, visible to a receiver now."
    )
    timestamp = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)
    inFlight = serializers.IntegerField(help_text="Received, not yet acknowledged.")
    delayed = serializers.IntegerField(help_text="On the queue, not visible yet (backoff).")
    deadLettered = serializers.IntegerField(help_text="In the dead-letter queue.")
    backend = serializers.CharField(help_text="Which queue (QUEUE_BACKEND and its name).")


class QueueUnavailableSerializer(serializers.Serializer):
    success = serializers.BooleanField(help_text="Always false.")
    message = serializers.CharField(help_text="Why the queue could not be read.")
    timestamp = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)


class AttemptDurationsSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Attempts sampled (the most recent).")
    avgMs = serializers.FloatField(allow_null=True)
    p95Ms = serializers.FloatField(allow_null=True)


@extend_schema_field(
    PolymorphicProxySerializer(
        component_name="StatsCounts",
        serializers=[SeedStatusCountsSerializer, StatusCountsSerializer],
        resource_type_field_name=None,
    )
)
class StatsCountsField(serializers.DictField):
    """The stats' counts: camelCase keys, or snake_case with ``?countKeys=snake``."""


class MessageStatusStatsSerializer(serializers.Serializer):
    success = serializers.BooleanField()
    timestamp = serializers.DateTimeField(help_text=SEED_TIMESTAMP_HELP)
    total = serializers.IntegerField()
    counts = StatsCountsField(
        child=serializers.IntegerField(),
        help_text="camelCase like every key here; `?countKeys=snake` (deprecated) answers "
        "the old `permanently_failed` / `dead_lettered` spelling.",
    )
    recovered = serializers.IntegerField(
        help_text="Sent by a retry of any kind (retry cycle, one-click, bulk, DLQ replay)."
    )
    permanentlyFailed = serializers.IntegerField()
    retrySuccessRate = serializers.FloatField(
        allow_null=True,
        help_text="recovered / (recovered + retried-then-permanently-failed); null before any.",
    )
    definitions = serializers.DictField(
        child=serializers.CharField(), help_text="What each retry figure means."
    )
    attemptDurations = AttemptDurationsSerializer()


# Batches


class TemplateRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class BatchSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    template = TemplateRefSerializer(
        allow_null=True, help_text="null once the template is deleted."
    )
    channel = serializers.CharField()
    priority = serializers.IntegerField()
    total = serializers.IntegerField(help_text="Messages in the batch (unique recipients).")
    created_by = serializers.CharField(source="created_by.username", allow_null=True, default=None)
    created_at = TimestampField()
    progress = serializers.SerializerMethodField()

    def get_progress(self, batch) -> StatusCountsSerializer:
        return self.context["progress"][batch.pk]


class BatchCreatedSerializer(BatchSerializer):
    duplicates_removed = serializers.IntegerField(
        help_text="Repeated recipients sent once (0 when an Idempotency-Key replayed the batch)."
    )


# Messages


class MessageSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    batch = serializers.IntegerField(source="batch_id", allow_null=True)
    recipient = serializers.CharField()
    status = serializers.ChoiceField(choices=Status.values)
    retry_count = serializers.IntegerField(help_text="Retries spent by the retry cycle.")
    attempt_count = serializers.IntegerField(help_text="Delivery attempts so far.")
    receive_count = serializers.IntegerField()
    dead_letter_count = serializers.IntegerField()
    last_error = serializers.CharField()
    error_signature = serializers.CharField()
    enqueue_source = serializers.CharField()
    next_retry_at = serializers.DateTimeField(allow_null=True)
    enqueued_at = serializers.DateTimeField(allow_null=True)
    sent_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class AttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    source = serializers.CharField()
    outcome = serializers.CharField()
    error = serializers.CharField()
    duration_ms = serializers.FloatField()
    created_at = serializers.DateTimeField()


class MessageDetailSerializer(MessageSerializer):
    batch_name = serializers.CharField(source="batch.name", allow_null=True, default=None)
    template = serializers.CharField(source="batch.template.name", allow_null=True, default=None)
    context = serializers.DictField(help_text="The recipient's template context.")
    attempts = AttemptSerializer(many=True)


class MessagePageSerializer(serializers.Serializer):
    next = serializers.URLField(allow_null=True, help_text="URL of the next (older) page.")
    previous = serializers.URLField(allow_null=True, help_text="URL of the previous (newer) page.")
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as `after`.")
    prev_cursor = serializers.CharField(allow_null=True, help_text="Pass as `before`.")
    results = MessageSerializer(many=True)


class RetryResultSerializer(OutcomeSerializer):
    requested = serializers.IntegerField(help_text="Messages asked for (or matched by a filter).")
    requeued = serializers.IntegerField(help_text="Failed / permanently failed, now queued again.")
    dlq_replayed = serializers.IntegerField(help_text="Dead-lettered, replayed from the DLQ.")
    already_queued = serializers.IntegerField(help_text="Pending already: left alone.")
    not_retryable = serializers.IntegerField(help_text="Sent (or otherwise not retryable).")


class RetryPreviewSerializer(OutcomeSerializer):
    count = serializers.IntegerField(help_text="Messages a retry would take now.")
    as_of = serializers.DateTimeField(help_text="The moment the selection is frozen at.")
    token = serializers.CharField(help_text='POST {"token": ...} within an hour to run it.')
    sample = MessageSerializer(many=True)


# Dead-letter queue


class DLQEntrySerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The entry's id in the DLQ (for replay / purge).")
    receive_count = serializers.IntegerField()
    dead_at = serializers.DateTimeField(allow_null=True)
    reason = serializers.CharField()
    readable = serializers.BooleanField(help_text="false: the body is not a Retry Admin envelope.")
    poison_loop = serializers.BooleanField(help_text="Back in the DLQ after a replay.")
    body = serializers.CharField()
    details = serializers.DictField(
        child=serializers.CharField(),
        help_text=(
            "The transport's own evidence: RabbitMQ's x-death and x-retries, Redis's "
            "attempts and due time; empty where the transport keeps none."
        ),
    )
    message = MessageSerializer(allow_null=True)
    auto_attempts = serializers.IntegerField(
        help_text="Automatic replays so far (DLQ_AUTO_REPLAY); 0 for a body that is not ours."
    )
    auto_next_at = serializers.DateTimeField(
        allow_null=True,
        help_text="When the automatic reprocessing may replay it next; null when it is off, "
        "the entry is not ours, or its automatic replays are spent (left for an admin).",
    )


class DLQListSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Entries in this answer (oldest first).")
    results = DLQEntrySerializer(many=True)


class DLQEntryOutcomeSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The DLQ entry id.")
    outcome = serializers.ChoiceField(
        choices=["replayed", "moved_as_is", "left"],
        help_text="`replayed`: back on the queue, its message pending; `moved_as_is`: a "
        "foreign body back on the queue unchanged; `left`: still in the DLQ.",
    )
    reason = serializers.CharField(help_text="Why it was left (empty otherwise).")


class DLQReplayResultSerializer(OutcomeSerializer):
    replayed = serializers.IntegerField()
    moved_as_is = serializers.IntegerField(
        help_text="Foreign bodies moved back to the main queue unchanged."
    )
    left = serializers.IntegerField(help_text="Entries still in the DLQ: `success` is false.")
    unreadable = serializers.DictField(
        child=serializers.CharField(), help_text="Entry id → why it stayed in the DLQ."
    )
    failed = serializers.DictField(
        child=serializers.CharField(), help_text="Entry id → why it could not be moved."
    )
    results = DLQEntryOutcomeSerializer(many=True, help_text="What happened to each entry.")


class DLQPurgeResultSerializer(OutcomeSerializer):
    purged = serializers.IntegerField()
