"""The Azure Table Storage mirror: batches and message logs written through to
the Teams sender's tables, so systems that read them keep working.

Tables (``AZURE_TABLES_PREFIX`` before each name): ``Batches`` (PartitionKey
``batch``, RowKey the batch id) and ``MessageLogs`` (PartitionKey the batch id,
RowKey the message id, with status, counts, last error and timestamps).

It is an outbox by watermark, so it needs no hooks in the services and can
never block or lose a send: every status change already sets
``MessageLog.updated_at`` (and ``Batch.updated_at`` is ``auto_now``). Each run
walks the rows with ``updated_at >= watermark - MIRROR_SAFETY_LAG_SECONDS``
in (updated_at, id) order, chunk by chunk, upserts each chunk in entity-group
transactions of at most 100 entities of one partition, and moves the watermark
only after the chunk is stored. The lag re-sends rows whose transaction
committed after a later one had already been mirrored; upserts make that
harmless. If Table Storage is down the run stops, says why on the watermark
row, and the next run carries on from where it got to.

Only this module imports azure-data-tables, and only when a run needs it.
Deleted rows (retention cleanup) are not deleted from the tables.
"""

import logging
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Model, Q
from django.utils import timezone

from retry_admin.models import Batch, MessageLog, MirrorWatermark

logger = logging.getLogger(__name__)

BATCHES = "Batches"
LOGS = "MessageLogs"
TRANSACTION_LIMIT = 100  # entities per entity-group transaction (Azure's limit)
MAX_TEXT = 4000  # characters of an error kept: 100 entities stay far below 4 MiB
NO_BATCH = "none"  # PartitionKey of a log whose batch was deleted


class MirrorUnavailable(Exception):
    """Table Storage could not be written; the next run catches up."""


@dataclass
class MirrorReport:
    written: dict[str, int] = field(default_factory=dict)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


# Entities


def _batch_entity(row: dict) -> dict:
    return {
        "PartitionKey": "batch",
        "RowKey": str(row["id"]),
        "Name": row["name"],
        "TemplateId": row["template_id"],
        "Channel": row["channel"],
        "Priority": row["priority"],
        "Total": row["total"],
        "CreatedBy": row["created_by__username"] or "",
        "CreatedAt": row["created_at"],
        "UpdatedAt": row["updated_at"],
    }


def _log_entity(row: dict) -> dict:
    return {
        "PartitionKey": str(row["batch_id"]) if row["batch_id"] is not None else NO_BATCH,
        "RowKey": str(row["id"]),
        "Recipient": row["recipient"],
        "Status": row["status"],
        "RetryCount": row["retry_count"],
        "AttemptCount": row["attempt_count"],
        "ReceiveCount": row["receive_count"],
        "DeadLetterCount": row["dead_letter_count"],
        "LastError": row["last_error"][:MAX_TEXT],
        "EnqueueSource": row["enqueue_source"],
        "CreatedAt": row["created_at"],
        "UpdatedAt": row["updated_at"],
        "EnqueuedAt": row["enqueued_at"],
        "SentAt": row["sent_at"],
        "NextRetryAt": row["next_retry_at"],
    }


@dataclass(frozen=True)
class _Stream:
    table: str
    model: type[Model]
    fields: tuple[str, ...]
    to_entity: Callable[[dict], dict]


STREAMS = (
    _Stream(
        BATCHES,
        Batch,
        (
            "id",
            "name",
            "template_id",
            "channel",
            "priority",
            "total",
            "created_by__username",
            "created_at",
            "updated_at",
        ),
        _batch_entity,
    ),
    _Stream(
        LOGS,
        MessageLog,
        (
            "id",
            "batch_id",
            "recipient",
            "status",
            "retry_count",
            "attempt_count",
            "receive_count",
            "dead_letter_count",
            "last_error",
            "enqueue_source",
            "created_at",
            "updated_at",
            "enqueued_at",
            "sent_at",
            "next_retry_at",
        ),
        _log_entity,
    ),
)


# Table Storage


class TableStore:
    """Upserts entities into Table Storage in entity-group transactions."""

    def __init__(self, connection_string: str, prefix: str = "") -> None:
        from azure.data.tables import TableServiceClient

        try:
            self._service = TableServiceClient.from_connection_string(
                connection_string, retry_total=1, connection_timeout=5, read_timeout=30
            )
        except ValueError as exc:
            raise MirrorUnavailable(f"Not a valid storage connection string: {exc}") from None
        self.prefix = prefix
        self._tables: dict[str, Any] = {}

    @classmethod
    def from_settings(cls) -> "TableStore":
        connection = (
            settings.AZURE_TABLES_CONNECTION_STRING or settings.AZURE_STORAGE_CONNECTION_STRING
        )
        if not connection:
            raise MirrorUnavailable(
                "No connection string: set AZURE_TABLES_CONNECTION_STRING or "
                "AZURE_STORAGE_CONNECTION_STRING"
            )
        return cls(connection, settings.AZURE_TABLES_PREFIX)

    def table(self, name: str):
        """The table client, creating the table on first use."""
        if name not in self._tables:
            with _translate(f"create table {self.prefix}{name}"):
                self._tables[name] = self._service.create_table_if_not_exists(self.prefix + name)
        return self._tables[name]

    def upsert(self, name: str, entities: list[dict]) -> None:
        from azure.data.tables import UpdateMode

        table = self.table(name)
        by_partition: dict[str, list[dict]] = defaultdict(list)
        for entity in entities:
            by_partition[entity["PartitionKey"]].append(entity)
        for partition, group in by_partition.items():
            # Azure refuses more than 100 per transaction (Azurite with a
            # confusing BadStatusLine), so chunk here.
            for start in range(0, len(group), TRANSACTION_LIMIT):
                operations = [
                    ("upsert", entity, {"mode": UpdateMode.REPLACE})
                    for entity in group[start : start + TRANSACTION_LIMIT]
                ]
                with _translate(f"write {len(operations)} rows of {name}/{partition}"):
                    table.submit_transaction(operations)

    def query(self, name: str, partition: str | None = None) -> list[dict]:
        """Entities of a table (one partition or all), for checks and tests."""
        table = self.table(name)
        with _translate(f"read {name}"):
            if partition is None:
                return [dict(e) for e in table.list_entities()]
            return [
                dict(e)
                for e in table.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
            ]


@contextmanager
def _translate(what: str) -> Iterator[None]:
    """Any Table Storage failure becomes ``MirrorUnavailable`` saying what failed."""
    from azure.core.exceptions import AzureError
    from azure.data.tables import TableTransactionError

    try:
        yield
    except (AzureError, TableTransactionError) as exc:
        first = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise MirrorUnavailable(f"Table Storage: could not {what}: {first}") from exc


# Runs


def _changed_rows(stream: _Stream, since: datetime | None, chunk: int) -> Iterator[list[dict]]:
    """Rows with updated_at >= ``since``, in (updated_at, id) order, by chunk."""
    base = stream.model.objects.order_by("updated_at", "pk")
    if since is not None:
        base = base.filter(updated_at__gte=since)
    after: tuple[datetime, Any] | None = None
    while True:
        qs = base
        if after is not None:
            qs = qs.filter(Q(updated_at__gt=after[0]) | Q(updated_at=after[0], pk__gt=after[1]))
        rows = list(qs.values(*stream.fields)[:chunk])
        if not rows:
            return
        yield rows
        after = (rows[-1]["updated_at"], rows[-1]["id"])


def _mirror_stream(store: TableStore, stream: _Stream, now: datetime) -> int:
    state, _ = MirrorWatermark.objects.get_or_create(table=stream.table)
    state.last_run_at = now
    since = None
    if state.watermark is not None:
        since = state.watermark - timedelta(seconds=settings.MIRROR_SAFETY_LAG_SECONDS)
    written = 0
    try:
        for rows in _changed_rows(stream, since, settings.MIRROR_CHUNK_SIZE):
            store.upsert(stream.table, [stream.to_entity(row) for row in rows])
            written += len(rows)
            newest = rows[-1]["updated_at"]
            # Only after the chunk is stored, and never backwards.
            if state.watermark is None or newest > state.watermark:
                state.watermark = newest
            state.rows_written += len(rows)
            state.save(update_fields=["watermark", "rows_written", "last_run_at"])
    except MirrorUnavailable as exc:
        state.last_error = str(exc)
        state.save(update_fields=["last_error", "last_run_at"])
        raise
    state.last_error = ""
    state.last_success_at = now
    state.save(update_fields=["last_error", "last_success_at", "last_run_at"])
    return written


def mirror_run(*, store: TableStore | None = None) -> MirrorReport:
    """Write batches and logs changed since the watermarks to Table Storage.
    Never raises for Table Storage trouble: it is reported, logged, and the
    next run catches up."""
    report = MirrorReport()
    now = timezone.now()
    try:
        store = store or TableStore.from_settings()
        for stream in STREAMS:
            report.written[stream.table] = _mirror_stream(store, stream, now)
    except MirrorUnavailable as exc:
        report.error = str(exc)
        logger.warning("Table Storage mirror stopped, the next run catches up: %s", exc)
    return report


# Status (reads)


@dataclass
class MirrorTableStatus:
    table: str
    watermark: datetime | None
    watermark_age_seconds: float | None
    changed_since: int  # rows changed after the watermark: not mirrored yet
    last_run_at: datetime | None
    last_success_at: datetime | None
    last_error: str
    rows_written: int


def mirror_status() -> list[MirrorTableStatus]:
    """How far behind each table is."""
    now = timezone.now()
    states = {s.table: s for s in MirrorWatermark.objects.all()}
    result = []
    for stream in STREAMS:
        state = states.get(stream.table) or MirrorWatermark(table=stream.table)
        pending = stream.model.objects.all()
        if state.watermark is not None:
            pending = pending.filter(updated_at__gt=state.watermark)
        result.append(
            MirrorTableStatus(
                table=stream.table,
                watermark=state.watermark,
                watermark_age_seconds=(
                    (now - state.watermark).total_seconds() if state.watermark else None
                ),
                changed_since=pending.count(),
                last_run_at=state.last_run_at,
                last_success_at=state.last_success_at,
                last_error=state.last_error,
                rows_written=state.rows_written,
            )
        )
    return result
