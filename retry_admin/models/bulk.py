"""Bulk inserts: many rows in one statement (COPY on PostgreSQL)."""

import itertools
import json
import uuid
from collections.abc import Callable

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction


def _fast_prep(field: models.Field, connection) -> Callable:
    """The field's own preparation, short-cut for the values that need none:
    text already ``str``, a UUID on a database without a native type (what
    Django would make of it: its hex), and a ``dict`` for a JSON field with no
    encoder of its own (its JSON text, which SQLite stores and PostgreSQL's
    COPY reads as jsonb). Per value this is most of the cost."""
    prep = field.get_db_prep_save
    if isinstance(field, models.CharField | models.TextField) and not field.choices:
        return lambda value, conn: value if type(value) is str else prep(value, conn)
    if isinstance(field, models.JSONField) and field.encoder is None:
        dumps = json.dumps
        return lambda value, conn: dumps(value) if type(value) is dict else prep(value, conn)
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
