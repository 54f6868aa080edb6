"""Writing a new batch: its rows checked, de-duplicated and written a chunk
at a time inside the caller's transaction, and on the db queue enqueued in
that same transaction.

Memory does not grow with the batch: rows are read from an iterable (a CSV
file being parsed, an API body), checked one by one, de-duplicated against a
temporary table of the transaction's connection, and written ``CHUNK_ROWS``
at a time. Per row the Python side only checks it and builds one tuple: the
ids are made as text, the logs go in through ``insert_rows`` (one statement
per chunk), and pointer envelopes are formatted from a per-chunk template.
"""

import contextlib
import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retry_admin.channels import get_channel
from retry_admin.envelope import VERSION
from retry_admin.logevents import log_event
from retry_admin.models import Batch, MessageLog, insert_rows
from retry_admin.models.bulk import chunks
from retry_admin.models.ids import new_message_id_hexes
from retry_admin.queues import QueueBackend, QueueError, get_backend
from retry_admin.services.batch_rows import (
    BatchValidationError,
    Checker,
    TooManyRecipients,
    digest_rows,
    with_too_many,
)
from retry_admin.services.dispatch import send_all
from retry_admin.services.envelopes import envelope_bodies

logger = logging.getLogger(__name__)

# Rows checked, de-duplicated and written at a time.
CHUNK_ROWS = 5000
# json.dumps of a str, without its Python-level wrapper (same bytes).
_quote = json.encoder.encode_basestring_ascii
_encode_keys = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class Written:
    unique: int = 0
    duplicates: int = 0
    enqueued: bool = False  # every log is on the queue (the db queue, same transaction)


def write_logs(batch: Batch, rows: Iterable, digest=None) -> Written:
    """Check, de-duplicate and write the rows a chunk at a time (each row
    added to ``digest`` too, if given); raises ``BatchValidationError`` (the
    caller's transaction then writes nothing) once every row has been
    checked, if any was bad. On a transactional queue (db) each chunk is
    enqueued in the same transaction; if the queue refuses, the rest are left
    in the outbox."""
    checker = Checker(batch.template.body, get_channel(batch.channel))
    check = checker.check
    backend = get_backend()
    written = Written(enqueued=backend.transactional)
    maximum = settings.MAX_BATCH_RECIPIENTS
    now = timezone.now()
    with _pipelined(backend), SeenKeys() as seen:
        for chunk in chunks(rows, CHUNK_ROWS):
            fresh: dict[str, tuple[str, Mapping]] = {}  # first of each recipient in the chunk
            if digest is not None:
                digest_rows(digest, chunk)
            for row in chunk:
                recipient = check(row)
                if recipient is None:
                    continue
                key = recipient.casefold()
                if key in fresh:
                    written.duplicates += 1
                else:
                    fresh[key] = (recipient, row.context)
            new = seen.add(list(fresh))
            written.duplicates += len(fresh) - len(new)
            written.unique += len(new)
            if checker.errors or written.unique > maximum:
                continue  # refused already: go on checking, write no more
            if len(new) == len(fresh):
                todo = list(fresh.values())
            else:
                todo = [value for key, value in fresh.items() if key in new]
            ids = new_message_id_hexes(len(todo))
            insert_rows(
                MessageLog,
                ["id", "recipient", "context"],
                [
                    (pk, recipient, context if context.__class__ is dict else dict(context))
                    for pk, (recipient, context) in zip(ids, todo, strict=True)
                ],
                batch_id=batch.pk,
                created_at=now,
                updated_at=now,
                enqueued_at=now if written.enqueued else None,
            )
            if written.enqueued:
                written.enqueued = _enqueue_in_transaction(backend, batch, ids, todo)
    errors = checker.finish(unique=written.unique)
    if written.unique > maximum:
        raise TooManyRecipients(with_too_many(errors, written.unique))
    if errors:
        raise BatchValidationError(errors)
    return written


def _pipelined(backend: QueueBackend):
    """On PostgreSQL, psycopg's pipeline mode: a statement whose answer is not
    read (a chunk's logs, its queue rows) goes to the server without waiting
    for it, so the server writes one chunk while this process checks the
    next; the next chunk's seen keys, whose answer is read, wait for it. An
    error in any statement is raised by a later one, and the transaction
    writes nothing.

    Inside it a statement's row count is not known when it returns, and COPY
    cannot run: only inserts whose counts are taken from Python run there
    (checked rows always fit a JSON array). Full envelopes are made by code
    that records refused messages by row count, so that path waits for each
    statement as before."""
    if connection.vendor != "postgresql":
        return contextlib.nullcontext()
    if backend.transactional and settings.QUEUE_ENVELOPE == "full":
        return contextlib.nullcontext()
    connection.ensure_connection()
    return connection.connection.pipeline()


class SeenKeys:
    """The recipients (case-folded) already in the batch being written, in a
    temporary table of this connection: constant memory in the process
    however large the batch. ``add`` returns which of the keys were new."""

    TABLE = "retry_admin_batch_keys"

    def __enter__(self) -> "SeenKeys":
        self.sqlite = connection.vendor == "sqlite"
        self.cursor = connection.cursor()
        # The keys go in as one JSON array: binding a list as text[] cost the
        # client five times as much. Byte order ("C") is all a set needs, and
        # cheaper to keep than the database's collation.
        if self.sqlite:
            self.name = f"temp.{self.TABLE}"
            create = f"CREATE TEMP TABLE {self.TABLE} (key TEXT PRIMARY KEY) WITHOUT ROWID"
            rows = "SELECT value FROM json_each(%s) WHERE true"  # WHERE: see SQLite's upsert
        else:
            self.name = f"pg_temp.{self.TABLE}"
            create = (
                f'CREATE TEMP TABLE {self.TABLE} (key text COLLATE "C" PRIMARY KEY) ON COMMIT DROP'
            )
            rows = "SELECT json_array_elements_text(%s::json)"
        self.cursor.execute(f"DROP TABLE IF EXISTS {self.name}")
        self.cursor.execute(create)
        self.sql = f"INSERT INTO {self.name} (key) {rows} ON CONFLICT DO NOTHING RETURNING key"
        return self

    def add(self, keys: list[str]) -> set[str]:
        if not keys:
            return set()
        self.cursor.execute(self.sql, [_encode_keys(keys)])
        return {key for (key,) in self.cursor.fetchall()}

    def __exit__(self, *exc) -> None:
        try:
            if exc[0] is None:  # after an error the transaction rolls it back
                self.cursor.execute(f"DROP TABLE {self.name}")
        finally:
            self.cursor.close()


def pointer_bodies(batch: Batch, ids: list[str], recipients: Iterable[str]) -> list[str]:
    """The first-attempt pointer envelopes of a new batch's logs (``ids`` as
    32 hex digits): the bytes ``Envelope.encode`` writes, from one template
    per batch instead of an object per message."""
    head = f'{{"v":{VERSION},"message_id":"'
    middle = f'","batch_id":{int(batch.pk)},"recipient":'
    template = "null" if batch.template_id is None else int(batch.template_id)
    tail = f',"template_id":{template},"attempt":1}}'
    quote = _quote
    # The id dashed as str(UUID) writes it, inline: a call per message cost more.
    return [
        f"{head}{pk[:8]}-{pk[8:12]}-{pk[12:16]}-{pk[16:20]}-{pk[20:]}{middle}{quote(recipient)}{tail}"
        for pk, recipient in zip(ids, recipients, strict=True)
    ]


def _enqueue_in_transaction(
    backend: QueueBackend, batch: Batch, ids: list[str], rows: list[tuple[str, Mapping]]
) -> bool:
    """Enqueue a chunk of a new batch inside its transaction; False (and the
    chunk's logs back in the outbox) if the queue refused, so nothing is lost
    either way."""
    if settings.QUEUE_ENVELOPE == "full":
        uuids = [uuid.UUID(hex=pk) for pk in ids]
        sendable, bodies, _ = envelope_bodies(
            backend,
            [
                (pk, batch.pk, recipient, batch.template_id, 0, batch.priority)
                for pk, (recipient, _) in zip(uuids, rows, strict=True)
            ],
            contexts={pk: context for pk, (_, context) in zip(uuids, rows, strict=True)},
        )
        ids = [row[0].hex for row in sendable]  # a body too large failed its message
    else:
        bodies = pointer_bodies(batch, ids, (recipient for recipient, _ in rows))
    try:
        with transaction.atomic():
            results = send_all(backend, bodies, priority=batch.priority)
    except QueueError as exc:
        log_event(
            logger,
            logging.ERROR,
            "queue.send_failed",
            "Queue unavailable while creating batch %s: %s; its messages stay in the outbox",
            batch.pk,
            exc,
            batch=batch.pk,
            count=len(ids),
            error=str(exc),
        )
        MessageLog.objects.filter(id__in=ids).update(enqueued_at=None)
        return False
    refused = [pk for pk, result in zip(ids, results, strict=True) if not result.ok]
    if refused:
        MessageLog.objects.filter(id__in=refused).update(enqueued_at=None)
        return False
    return True
