"""The seed-compatible endpoints' answers (views/seed.py), and what the OpenAPI
schema says they are: camelCase keys and the seed's timestamp format
(api/timestamps.py). Our own resources are in representations.py."""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from retry_admin.api.representations import OutcomeSerializer, StatusCountsSerializer
from retry_admin.api.timestamps import SEED_TIMESTAMP_HELP
from retry_admin.models import Status


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
