"""The Azure Table Storage mirror against Azurite: the tables match the
database after a run, including after Table Storage went away in the middle
of one, and ``mirror_status`` tells how far behind it is."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from retry_admin.models import Batch, MessageLog, MirrorWatermark, Status
from retry_admin.schedules import schedule_specs
from retry_admin.services import mirror as mirror_service
from retry_admin.services.mirror import BATCHES, LOGS, TableStore, mirror_run
from retry_admin.services.sender import sender_drain
from retry_admin.tasks import mirror_tables
from tests.emulators import TcpProxy, azurite  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def tables(settings, azurite):  # noqa: F811
    """The mirror on, writing to tables of its own in Azurite."""
    settings.AZURE_TABLES_MIRROR = True
    settings.AZURE_TABLES_CONNECTION_STRING = azurite.connection_string()
    settings.AZURE_TABLES_PREFIX = f"t{uuid.uuid4().hex[:12]}"
    return TableStore.from_settings()


def assert_tables_match_the_database(store: TableStore) -> None:
    batches = {e["RowKey"]: e for e in store.query(BATCHES, partition="batch")}
    assert set(batches) == {str(pk) for pk in Batch.objects.values_list("id", flat=True)}
    for batch in Batch.objects.all():
        entity = batches[str(batch.pk)]
        assert (entity["Name"], entity["Total"], entity["Channel"]) == (
            batch.name,
            batch.total,
            batch.channel,
        )
        assert entity["UpdatedAt"] == batch.updated_at

    logs = {(e["PartitionKey"], e["RowKey"]): e for e in store.query(LOGS)}
    expected = {(str(log.batch_id), str(log.pk)): log for log in MessageLog.objects.all()}
    assert set(logs) == set(expected)
    for key, log in expected.items():
        entity = logs[key]
        assert (
            entity["Status"],
            entity["RetryCount"],
            entity["AttemptCount"],
            entity["LastError"],
            entity["Recipient"],
        ) == (log.status, log.retry_count, log.attempt_count, log.last_error, log.recipient)
        assert entity["UpdatedAt"] == log.updated_at
        assert entity["CreatedAt"] == log.created_at
        assert entity.get("SentAt") == log.sent_at


def test_the_tables_match_the_database_after_a_run(tables, make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 0.4
    settings.SIMULATED_PERMANENT_RATE = 0.2
    make_batch(12, channel="simulated", name="Greetings")
    make_batch(3, name="Second")
    sender_drain(until_empty=True)
    report = mirror_run()
    assert report.ok, report.error
    assert report.written == {BATCHES: 2, LOGS: 15}
    assert_tables_match_the_database(tables)
    statuses = {e["Status"] for e in tables.query(LOGS)}
    assert Status.SENT in statuses and len(statuses) > 1


def test_a_partition_larger_than_one_transaction_is_written_in_hundreds(tables, make_batch):
    batch = make_batch(250)
    assert mirror_run().ok
    assert len(tables.query(LOGS, partition=str(batch.pk))) == 250


def test_only_rows_changed_since_the_watermark_are_written_again(tables, make_batch, settings):
    settings.MIRROR_SAFETY_LAG_SECONDS = 0
    make_batch(5)
    start = timezone.now() - timedelta(minutes=10)
    for i, pk in enumerate(MessageLog.objects.order_by("id").values_list("id", flat=True)):
        MessageLog.objects.filter(pk=pk).update(updated_at=start + timedelta(seconds=i))
    assert mirror_run().written[LOGS] == 5
    first = MessageLog.objects.order_by("id").first()
    MessageLog.objects.filter(pk=first.pk).update(
        status=Status.FAILED, last_error="boom", updated_at=timezone.now()
    )
    # The changed row, and the one stamped exactly at the watermark (>=).
    assert mirror_run().written[LOGS] == 2
    assert_tables_match_the_database(tables)


def test_the_safety_lag_catches_a_transaction_that_committed_late(tables, make_batch, settings):
    settings.MIRROR_SAFETY_LAG_SECONDS = 120
    make_batch(2)
    mirror_run()
    watermark = MirrorWatermark.objects.get(table=LOGS).watermark
    # A sender stamped this row before the run but committed after it.
    late = MessageLog.objects.order_by("id").first()
    MessageLog.objects.filter(pk=late.pk).update(
        status=Status.SENT, sent_at=watermark, updated_at=watermark - timedelta(seconds=30)
    )
    assert mirror_run().ok
    assert_tables_match_the_database(tables)


@pytest.fixture
def proxy(azurite):  # noqa: F811
    """Azurite's table service behind a connection we can cut."""
    proxy = TcpProxy(azurite.table_port)
    yield proxy
    proxy.cut()


def test_the_tables_catch_up_after_an_outage_in_the_middle_of_a_run(
    settings,
    azurite,  # noqa: F811
    proxy,
    make_batch,
    monkeypatch,
):
    settings.AZURE_TABLES_MIRROR = True
    settings.AZURE_TABLES_CONNECTION_STRING = azurite.connection_string(table_port=proxy.port)
    settings.AZURE_TABLES_PREFIX = f"t{uuid.uuid4().hex[:12]}"
    settings.MIRROR_CHUNK_SIZE = 10
    store = TableStore(azurite.connection_string(), settings.AZURE_TABLES_PREFIX)  # no proxy

    make_batch(30)
    assert mirror_run().ok
    sender_drain(until_empty=True)  # 30 status changes to mirror

    # Table Storage goes away after the first chunk of logs is stored.
    real_upsert = TableStore.upsert
    calls = []

    def upsert_then_outage(self, name, entities):
        real_upsert(self, name, entities)
        if name == LOGS:
            calls.append(len(entities))
            proxy.cut()

    monkeypatch.setattr(TableStore, "upsert", upsert_then_outage)
    report = mirror_run()
    assert calls == [10]
    assert "Table Storage" in report.error
    assert len([e for e in store.query(LOGS) if e["Status"] == Status.SENT]) == 10
    assert MirrorWatermark.objects.get(table=LOGS).last_error == report.error
    monkeypatch.setattr(TableStore, "upsert", real_upsert)

    # More happens while it is down; that run stores nothing and loses nothing.
    make_batch(4, name="During the outage")
    watermark = MirrorWatermark.objects.get(table=LOGS).watermark
    assert not mirror_run().ok
    assert MirrorWatermark.objects.get(table=LOGS).watermark == watermark
    out = io.StringIO()
    call_command("mirror_status", stdout=out)
    assert "last error: Table Storage" in out.getvalue()

    proxy.restore()
    report = mirror_run()
    assert report.ok, report.error
    assert_tables_match_the_database(store)
    assert MirrorWatermark.objects.get(table=LOGS).last_error == ""


def test_mirror_status_reports_the_lag(tables, make_batch):
    make_batch(3)
    out = io.StringIO()
    call_command("mirror_status", stdout=out)
    text = out.getvalue()
    assert "mirror: on" in text
    assert "MessageLogs: never mirrored; changed since: 3 rows" in text

    mirror_run()
    MessageLog.objects.filter(pk=MessageLog.objects.first().pk).update(
        updated_at=timezone.now() + timedelta(seconds=5)
    )
    out = io.StringIO()
    call_command("mirror_status", stdout=out)
    text = out.getvalue()
    assert "MessageLogs: watermark " in text and " s ago)" in text
    assert "changed since: 1 rows" in text
    assert "Batches: watermark" in text and "Batches: never" not in text


def test_the_scheduled_task_runs_only_when_the_mirror_is_on(tables, settings, make_batch):
    make_batch(1)
    settings.AZURE_TABLES_MIRROR = False
    assert mirror_tables() == {"skipped": "AZURE_TABLES_MIRROR is off"}
    assert not MirrorWatermark.objects.exists()
    settings.AZURE_TABLES_MIRROR = True
    assert mirror_tables() == {"written": {BATCHES: 1, LOGS: 1}, "error": ""}


def test_it_is_scheduled_every_minute(settings):
    settings.AZURE_TABLES_MIRROR = True
    [spec] = [s for s in schedule_specs() if s.func == "retry_admin.tasks.mirror_tables"]
    assert spec.minutes == 1


def test_a_missing_connection_string_is_reported_not_raised(settings):
    settings.AZURE_TABLES_CONNECTION_STRING = ""
    settings.AZURE_STORAGE_CONNECTION_STRING = ""
    report = mirror_service.mirror_run()
    assert "No connection string" in report.error
