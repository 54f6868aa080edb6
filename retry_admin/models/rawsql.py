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
        return f"{column} = ANY(%s)", [_pg_array(values)]
    return f"{column} IN ({', '.join(['%s'] * len(values))})", list(values)


def _pg_array(values: Sequence) -> object:
    """Integers and UUIDs as one array literal, which the column compared
    with gives its type (``'{1,2}'``: an untyped literal); anything else as a
    list for psycopg to adapt. psycopg's list adapter cost about 1.4 µs an
    element, most of the sender's client-side time per statement on a chunk of
    500; the literal, from the text a ``MessageId`` keeps, about 0.15 µs."""
    kinds = {value.__class__ for value in values}
    if kinds <= {int} or all(issubclass(kind, uuid.UUID) for kind in kinds):
        return "{" + ",".join(map(str, values)) + "}"
    return list(values)


def uuid_param(value: uuid.UUID) -> object:
    """A UUID as a ``UUIDField`` column holds it (hex text where the database
    has no UUID type, as Django stores it)."""
    return value if connection.features.has_native_uuid_field else value.hex


def datetime_param(value: datetime | None) -> object:
    """A datetime as a ``DateTimeField`` column holds it."""
    return connection.ops.adapt_datetimefield_value(value)
