"""Bulk inserts: many rows in one statement (COPY on PostgreSQL; on SQLite
one JSON array per chunk, expanded by ``json_each``)."""

import itertools
import json
import operator
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator

from django.db import DEFAULT_DB_ALIAS, connections, models, transaction

# ``->`` and ``->>`` came with SQLite 3.38; before, executemany.
_SQLITE_ARROWS = sqlite3.sqlite_version_info >= (3, 38)


def chunks(rows: Iterable, size: int) -> Iterator[list]:
    """``rows`` as lists of ``size`` (the last shorter), read as they come."""
    rows = iter(rows)
    while chunk := list(itertools.islice(rows, size)):
        yield chunk


def _column_prep(field: models.Field, connection, *, raw_dicts: bool = False) -> Callable:
    """Prepares a column of values (a list) as the field's own preparation
    would, short-cut for the values that need none: text already ``str``, a
    UUID on a database without a native type (what Django would make of it:
    its hex), a UUID given as 32 hex digits (what SQLite stores and COPY
    reads), and a ``dict`` for a JSON field with no encoder of its own (its
    JSON text, which SQLite stores and PostgreSQL's COPY reads as jsonb; or,
    with ``raw_dicts``, the dict itself). Per value this is most of the cost,
    so each short cut is a test inside one list comprehension per column."""
    prep = field.get_db_prep_save
    if isinstance(field, models.CharField | models.TextField) and not field.choices:
        return lambda values, conn: [v if v.__class__ is str else prep(v, conn) for v in values]
    if isinstance(field, models.JSONField) and field.encoder is None:
        if raw_dicts:
            return lambda values, conn: [
                v if v.__class__ is dict else prep(v, conn) for v in values
            ]
        dumps = json.dumps
        return lambda values, conn: [
            dumps(v) if v.__class__ is dict else prep(v, conn) for v in values
        ]
    if isinstance(field, models.UUIDField):
        if connection.features.has_native_uuid_field:
            return lambda values, conn: [
                v if v.__class__ is str and len(v) == 32 else prep(v, conn) for v in values
            ]
        return lambda values, conn: [
            v.hex
            if v.__class__ is uuid.UUID
            else v
            if v.__class__ is str and len(v) == 32
            else prep(v, conn)
            for v in values
        ]
    return lambda values, conn: [prep(v, conn) for v in values]


def _column_ready(field: models.Field, connection, *, raw_dicts: bool) -> Callable | None:
    """A test that a whole column needs no preparation at all (what
    ``_column_prep`` would give back unchanged), made of C-level passes over
    it; None for fields whose values always need preparing."""
    if isinstance(field, models.CharField | models.TextField) and not field.choices:
        return lambda values: set(map(type, values)) == {str}
    if raw_dicts and isinstance(field, models.JSONField) and field.encoder is None:
        return lambda values: set(map(type, values)) == {dict}
    if isinstance(field, models.UUIDField):
        return lambda values: set(map(type, values)) == {str} and set(map(len, values)) == {32}
    return None


def _types(params: list[tuple], index: int) -> set[type]:
    return set(map(type, map(operator.itemgetter(index), params)))


def insert_rows(model: type[models.Model], fields: list[str], rows, **shared) -> int:
    """INSERT rows of ``model`` fast, a chunk of rows at a time: on SQLite one
    statement reading the chunk as a JSON array, on PostgreSQL a ``COPY``
    (elsewhere one prepared statement run for every row, ``executemany``).

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
    tail = tuple(value for _, value in constant)
    json_path = connection.vendor == "postgresql" or (
        connection.vendor == "sqlite" and _SQLITE_ARROWS
    )
    if connection.vendor == "postgresql":
        # executemany is a round trip per row on PostgreSQL: there, COPY
        # (psycopg streams the rows; UNNEST of arrays spent most of its time
        # escaping them).
        write = _copy_writer(f"COPY {table} ({columns}) FROM STDIN", tail)
        write = _json_array_writer(
            table, columns, [*per_row, *per_row_defaults], tail, connection, write
        )
    else:
        values = ", ".join(["%s"] * len(ordered))
        write = _executemany_writer(f"INSERT INTO {table} ({columns}) VALUES ({values})", tail)
        if json_path:
            write = _json_each_writer(table, columns, per_row, per_row_defaults, tail, write)
    # On the JSON paths a JSON field's dict goes into the chunk's array as it is.
    prepare = [_column_prep(field, connection, raw_dicts=json_path) for field in per_row]
    ready = [_column_ready(field, connection, raw_dicts=json_path) for field in per_row]
    # Rows given as tuples that need no preparation go as they are.
    as_given = not per_row_defaults and None not in ready
    width = len(per_row)
    count = 0
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for chunk in chunks(rows, 5000):
            if set(map(len, chunk)) != {width}:
                raise ValueError(f"insert_rows: every row must have {width} values ({fields})")
            columns = list(zip(*chunk, strict=True))
            if (
                as_given
                and set(map(type, chunk)) == {tuple}
                and all(test(column) for test, column in zip(ready, columns, strict=True))
            ):
                write(cursor, chunk, chunk)
                count += len(chunk)
                continue
            prepared = [
                prep(column, connection) for prep, column in zip(prepare, columns, strict=True)
            ]
            defaults = [
                [f.get_db_prep_save(f.get_default(), connection) for _ in chunk]
                for f in per_row_defaults
            ]
            columns_given = [*prepared, *defaults]
            params = list(zip(*columns_given, strict=True)) if columns_given else [()] * len(chunk)
            write(cursor, params, chunk)
            count += len(params)
    return count


_encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode


def _json_document(params: list[tuple]) -> str | None:
    """A chunk's rows as one JSON array, or None when JSON cannot carry them
    exactly: a value it cannot encode (NaN, bytes, Decimal, a datetime) or a
    NUL character; the writer's fallback takes such a chunk."""
    try:
        document = _encode(params)
    except (TypeError, ValueError):
        return None
    return None if "\\u0000" in document else document


def _copy_writer(sql: str, tail: tuple) -> Callable:
    def write(cursor, params: list[tuple], chunk: list) -> None:
        with cursor.cursor.copy(sql) as stream:
            for row in params:
                stream.write_row((*row, *tail))

    return write


def _json_array_writer(
    table: str, columns: str, fields: list[models.Field], tail: tuple, connection, fallback
) -> Callable:
    """PostgreSQL: the chunk's rows as one JSON array, expanded by
    ``json_array_elements`` and cast to each column's type, the shared values
    bound once. COPY spent most of the client's time formatting each row
    (``write_row``); the server's work is the same. A JSON field's dicts are
    elements of the array (cast to jsonb); a chunk JSON cannot carry exactly
    (datetimes, NaN, a NUL) goes through COPY instead."""
    json_columns = [i for i, field in enumerate(fields) if _plain_json(field)]
    casts = [field.db_type(connection) for field in fields]
    shared = "".join(", %s" for _ in tail)

    def statement(embedded: set[int]) -> str:
        selected = ", ".join(
            f"(e->{i})::{cast}" if i in embedded else f"(e->>{i})::{cast}"
            for i, cast in enumerate(casts)
        )
        return (
            f"INSERT INTO {table} ({columns}) SELECT {selected}{shared}"
            " FROM json_array_elements(%s::json) AS e"
        )

    def write(cursor, params: list[tuple], chunk: list) -> None:
        embedded = {i for i in json_columns if _types(params, i) == {dict}}
        document = _json_document(params)
        if document is None:
            fallback(cursor, _dicts_as_text(params, fields, json_columns), chunk)
            return
        if len(embedded) < len(json_columns):  # some were not dicts: all as the field writes them
            params = _dicts_as_text(params, fields, json_columns)
            document = _encode(params)
            embedded = set()
        cursor.execute(statement(embedded), [*tail, document])

    return write


def _dicts_as_text(params: list[tuple], fields: list[models.Field], columns: list[int]):
    """``params`` with the dicts in ``columns`` (JSON fields with no encoder
    of their own) as the executemany and COPY paths write them: their JSON
    text. Every other value there was prepared already, kept as a dict only
    for the JSON paths: preparing it again would encode it twice."""
    if not columns:
        return params
    dumps = json.dumps
    rows = [list(row) for row in params]
    for i in columns:
        for row in rows:
            if row[i].__class__ is dict:
                row[i] = dumps(row[i])
    return [tuple(row) for row in rows]


def _executemany_writer(sql: str, tail: tuple) -> Callable:
    def write(cursor, params: list[tuple], chunk: list) -> None:
        cursor.executemany(sql, [(*row, *tail) for row in params])

    return write


def _plain_json(field: models.Field) -> bool:
    return isinstance(field, models.JSONField) and field.encoder is None


def _json_each_writer(
    table: str,
    columns: str,
    per_row: list[models.Field],
    per_row_defaults: list[models.Field],
    tail: tuple,
    fallback: Callable,
) -> Callable:
    """SQLite: the chunk's rows as one JSON array, a row per element, the
    shared values bound once: ``INSERT … SELECT value->>0, … FROM
    json_each(?)``. Binding every value of every row (executemany) cost more
    than the insert itself. A JSON field's dicts are elements of the array,
    stored as the JSON text ``->`` gives (what ``json.loads`` reads back as
    the same dict), so they are not encoded twice. Values JSON cannot carry
    exactly (NaN, bytes, Decimal, a NUL character) send the chunk through
    executemany instead."""

    count = len(per_row) + len(per_row_defaults)
    shared = ", ".join(["%s"] * len(tail))
    json_columns = [i for i, field in enumerate(per_row) if _plain_json(field)]

    def statement(embedded: set[int]) -> str:
        selected = ", ".join(
            f"value->{i}" if i in embedded else f"value->>{i}" for i in range(count)
        )
        return (
            f"INSERT INTO {table} ({columns}) SELECT {selected}{', ' if tail else ''}{shared}"
            " FROM json_each(%s)"
        )

    def write(cursor, params: list[tuple], chunk: list) -> None:
        embedded = {i for i in json_columns if _types(params, i) == {dict}}
        if len(embedded) < len(json_columns):
            params = _dicts_as_text(params, per_row, [i for i in json_columns if i not in embedded])
        document = _json_document(params)
        if document is None:
            fallback(cursor, _dicts_as_text(params, per_row, json_columns), chunk)
            return
        cursor.execute(statement(embedded), [*tail, document])

    return write
