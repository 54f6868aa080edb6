"""Request parsing. Serializers here only check shapes and resolve references
(a template by id or name); every rule about batches, retries and the DLQ is
in ``retry_admin.services``. Response shapes are in ``representations.py``
(``seed_representations.py`` for the seed-compatible endpoints).
"""

from django.conf import settings
from rest_framework import serializers

from retry_admin.api.fields import (
    BIGINT_MAX,
    BooleanField,
    CharField,
    IntegerField,
    QuerySerializer,
    RecipientField,
    TemplateRefField,
    TrueField,
    UniqueListField,
    UUIDField,
)
from retry_admin.channels.registry import CHANNELS
from retry_admin.filters import FILTER_FIELDS, MessageFilter
from retry_admin.models import Status
from retry_admin.services.batches import RecipientRow

MAX_IDS = 10_000
SMALLINT = 2**15


# Batches


IDEMPOTENCY_HEADER = "Idempotency-Key"


class IdempotencyKeySerializer(serializers.Serializer):
    def get_fields(self):
        # Named like the header, so a 400 says which input was wrong.
        return {IDEMPOTENCY_HEADER: CharField(max_length=200, required=False, allow_blank=True)}


class BatchListQuerySerializer(QuerySerializer):
    cursor = CharField(
        required=False, max_length=1000, help_text="A page's cursor (from `next` / `previous`)."
    )
    limit = IntegerField(min_value=1, max_value=200, required=False, default=50)


class BatchCreateSerializer(serializers.Serializer):
    template = TemplateRefField()
    name = CharField(
        max_length=200,
        required=False,
        help_text="Shown on the batches page; defaults to 'API batch'.",
    )
    channel = serializers.ChoiceField(
        choices=sorted(CHANNELS),
        required=False,
        help_text="Delivery channel; defaults to the DEFAULT_CHANNEL setting.",
    )
    priority = IntegerField(min_value=-SMALLINT, max_value=SMALLINT - 1, required=False, default=0)
    recipients = serializers.ListField(
        child=RecipientField(),
        allow_empty=False,
        help_text=(
            "One object per recipient; keys other than `recipient` are the template's "
            "context. Duplicates (case-insensitive) are sent once. At most "
            "MAX_BATCH_RECIPIENTS (setting)."
        ),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["recipients"].error_messages["empty"] = "No recipients: add at least one."

    def validate(self, data):
        data["recipients"] = [
            RecipientRow(line=i, recipient=item["recipient"], context=item["context"])
            for i, item in enumerate(data["recipients"], start=1)
        ]
        data.setdefault("name", "API batch")
        data.setdefault("channel", settings.DEFAULT_CHANNEL)
        return data


# Messages


def _filter_from(values: dict) -> MessageFilter:
    """Validated filter values, parsed by the filter the pages use (which also
    refuses an end date before the start date)."""
    return MessageFilter.from_params(
        {name: str(values[name]) for name in FILTER_FIELDS if values.get(name) is not None}
    )


class MessageFilterSerializer(serializers.Serializer):
    """The messages page's filters (``retry_admin.filters.MessageFilter``)."""

    status = serializers.ChoiceField(choices=Status.values, required=False, allow_blank=True)
    batch = IntegerField(min_value=1, max_value=BIGINT_MAX, required=False, help_text="A batch id.")
    # Not trimmed here, so that maxLength means what the schema says (the filter trims).
    recipient = CharField(
        max_length=320,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="Starts with (prefix match).",
    )
    error = CharField(
        max_length=255,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        help_text="An exact error signature.",
    )
    created_from = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive.")
    created_to = serializers.DateField(required=False, help_text="YYYY-MM-DD, inclusive.")

    def to_internal_value(self, data):
        # A JSON filter with a misspelt key must not silently widen the selection.
        if isinstance(data, dict) and not hasattr(data, "getlist"):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {key: [f"Unknown filter {key!r}."] for key in unknown}
                )
        return super().to_internal_value(data)


class MessageListQuerySerializer(QuerySerializer, MessageFilterSerializer):
    after = UUIDField(
        required=False, help_text="Cursor: messages older than this id (a page's `next_cursor`)."
    )
    before = UUIDField(
        required=False, help_text="Cursor: messages newer than this id (a page's `prev_cursor`)."
    )
    limit = IntegerField(min_value=1, max_value=200, required=False, default=50)

    def validate(self, data):
        data["filters"] = _filter_from(data)
        return data


def _message_ids(**kwargs):
    return UniqueListField(
        child=UUIDField(),
        allow_empty=False,
        max_length=MAX_IDS,
        help_text=f"Message ids to retry (at most {MAX_IDS}).",
        **kwargs,
    )


def _filter(**kwargs):
    return MessageFilterSerializer(
        help_text="Retry every retryable message that matches (as of this request).", **kwargs
    )


def _preview():
    return BooleanField(
        required=False,
        default=False,
        help_text="With `filter`: only count what would be retried, and return a `token`.",
    )


def _token(**kwargs):
    return CharField(
        max_length=4000,
        help_text="A preview's token: retry exactly what that preview counted (within an hour).",
        **kwargs,
    )


class BulkRetrySerializer(serializers.Serializer):
    ids = _message_ids(required=False)
    filter = _filter(required=False)
    preview = _preview()
    token = _token(required=False)

    def validate(self, data):
        given = [key for key in ("ids", "filter", "token") if key in data]
        if len(given) != 1:
            raise serializers.ValidationError("Send exactly one of ids, filter or token.")
        if data["preview"] and "filter" not in data:
            raise serializers.ValidationError({"preview": ["preview needs a filter."]})
        if "filter" in data:
            data["filter"] = _filter_from(data["filter"])
        return data


# The three shapes BulkRetrySerializer accepts, for the schema (a oneOf).


class RetryByIdsSerializer(serializers.Serializer):
    ids = _message_ids()


class RetryByFilterSerializer(serializers.Serializer):
    filter = _filter()
    preview = _preview()


class RetryByTokenSerializer(serializers.Serializer):
    token = _token()


# Retry cycle


class RetryTriggerQuerySerializer(QuerySerializer):
    dryRun = BooleanField(
        required=False,
        default=False,
        help_text="true: report what a cycle would do now, change nothing (synchronous).",
    )


class StatsQuerySerializer(QuerySerializer):
    countKeys = serializers.ChoiceField(
        choices=["camel", "snake"],
        required=False,
        default="camel",
        help_text="Deprecated: `snake` answers `counts` with the old snake_case keys.",
    )


# Dead-letter queue


class DLQListQuerySerializer(QuerySerializer):
    limit = IntegerField(min_value=1, max_value=500, required=False, default=100)


def _dlq_ids(**kwargs):
    return UniqueListField(
        child=CharField(max_length=200),
        allow_empty=False,
        max_length=MAX_IDS,
        help_text="DLQ entry ids (the `id` of GET /api/dlq/ entries).",
        **kwargs,
    )


class DLQReplaySerializer(serializers.Serializer):
    ids = _dlq_ids(required=False)
    all = BooleanField(required=False, help_text="true: replay the whole DLQ.")
    as_is = BooleanField(
        required=False,
        default=False,
        help_text="true: also move bodies that are not Retry Admin envelopes back to the "
        "main queue unchanged (what the SQS redrive does); default: leave them.",
    )

    def validate(self, data):
        if ("ids" in data) == bool(data.get("all")):
            raise serializers.ValidationError('Send either {"ids": [...]} or {"all": true}.')
        return data


# The two shapes DLQReplaySerializer accepts, for the schema (a oneOf).


class ReplayIdsSerializer(serializers.Serializer):
    ids = _dlq_ids()
    as_is = BooleanField(
        required=False,
        default=False,
        help_text="true: also move bodies that are not Retry Admin envelopes back to the "
        "main queue unchanged (what the SQS redrive does); default: leave them.",
    )


class ReplayAllSerializer(serializers.Serializer):
    all = TrueField(help_text="Replay the whole DLQ.")
    as_is = BooleanField(
        required=False,
        default=False,
        help_text="true: also move bodies that are not Retry Admin envelopes back to the "
        "main queue unchanged (what the SQS redrive does); default: leave them.",
    )


class DLQPurgeSerializer(serializers.Serializer):
    confirm = serializers.ChoiceField(
        choices=["purge"],
        required=False,
        help_text="Must be `purge`, so that a stray DELETE cannot empty the DLQ.",
    )
    ids = _dlq_ids(required=False)

    def validate(self, data):
        if data.get("confirm") != "purge":
            raise serializers.ValidationError(
                {
                    "confirm": [
                        'Confirm the purge: send {"confirm": "purge"} in the body '
                        "or ?confirm=purge in the URL."
                    ]
                }
            )
        return data
