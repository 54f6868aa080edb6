"""How the API writes a moment: ISO 8601 on our own resources, and on the
seed-compatible endpoints the seed's format (``2024-01-15T10:30:00.000Z``:
UTC, milliseconds, "Z", whatever the microseconds or TIME_ZONE)."""

from datetime import UTC, datetime

from rest_framework import serializers
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder


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
