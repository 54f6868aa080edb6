"""What the hot paths that write their own SQL share (the sender's recording,
the db queue's acks): parameters in the form each database stores them, and
``IN`` lists that stay one parameter on PostgreSQL."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.db import connection


def in_list(column: str, values: Sequence) -> tuple[str, list]:
    """``column IN (%s, …)`` and its parameters; on PostgreSQL
    ``column = ANY(%s)`` with one array, so the statement text (and its plan)
    does not change with the number of values."""
    if connection.vendor == "postgresql":
        return f"{column} = ANY(%s)", [list(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def uuid_param(value: uuid.UUID) -> object:
    """A UUID as a ``UUIDField`` column holds it (hex text where the database
    has no UUID type, as Django stores it)."""
    return value if connection.features.has_native_uuid_field else value.hex


def datetime_param(value: datetime | None) -> object:
    """A datetime as a ``DateTimeField`` column holds it."""
    return connection.ops.adapt_datetimefield_value(value)
