"""Response shapes: what the API renders, and what the OpenAPI schema says it
renders. Our own resources use the model's snake_case names and ISO 8601
timestamps; the seed-compatible endpoints' camelCase answers are in
seed_representations.py, the timestamp formats in timestamps.py."""

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers

from retry_admin.api.timestamps import TimestampField
from retry_admin.models import Status

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
