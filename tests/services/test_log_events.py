"""The logs the design names, one structured line per event (issue 13 item 4):
service start/stop, cycle start and completion, results per chunk, manual
triggers and who, and errors at ERROR for payload building, queue sends,
database updates. LOG_FORMAT picks key=value (logfmt) or JSON."""

import json
import logging

import pytest
from django.db import DatabaseError
from django.utils import timezone

from retry_admin.logevents import log_event, service_of
from retry_admin.models import Heartbeat, MessageLog
from retry_admin.queues import QueueError
from retry_admin.queues.db import DatabaseQueue
from retry_admin.services import retry
from retry_admin.services.cleanup import cleanup_run
from retry_admin.services.manual_retry import message_retry
from retry_admin.services.retry import retry_cycle_run, retry_cycle_trigger

pytestmark = pytest.mark.django_db


def events(caplog, name: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if getattr(r, "event", None) == name]


def one(caplog, name: str, level: int) -> logging.LogRecord:
    [record] = events(caplog, name)
    assert record.levelno == level, (name, record.levelname)
    return record


@pytest.fixture
def caplog(caplog):
    caplog.set_level(logging.INFO, logger="retry_admin")
    return caplog


# The retry cycle


def test_a_cycle_logs_its_start_each_chunk_and_its_completion(batch_with_failures, caplog):
    run = retry_cycle_run(trigger="schedule")

    started = one(caplog, "retry_cycle.started", logging.INFO)
    assert (started.run, started.trigger, started.by, started.limit) == (
        run.pk,
        "schedule",
        "system",
        100,
    )
    chunk = one(caplog, "retry_cycle.chunk", logging.INFO)
    assert (chunk.chunk, chunk.selected, chunk.requeued, chunk.not_enqueued) == (1, 4, 4, 0)
    finished = one(caplog, "retry_cycle.finished", logging.INFO)
    assert (finished.run, finished.requeued, finished.left, finished.error) == (run.pk, 4, 0, "")
    assert caplog.records.index(started) < caplog.records.index(chunk)
    assert caplog.records.index(chunk) < caplog.records.index(finished)


def test_a_message_whose_payload_cannot_be_built_is_an_error(batch_with_failures, caplog):
    blank = MessageLog.objects.filter(batch=batch_with_failures).order_by("id").first()
    MessageLog.objects.filter(pk=blank.pk).update(recipient="")

    retry_cycle_run(trigger="schedule")

    record = one(caplog, "retry_cycle.payload_invalid", logging.ERROR)
    assert (record.message_id, record.reason) == (str(blank.pk), "no recipient")


def test_a_queue_that_refuses_the_sends_is_an_error(batch_with_failures, caplog, monkeypatch):
    def down(self, bodies, **kwargs):
        raise QueueError("queue is down")

    monkeypatch.setattr(DatabaseQueue, "send", down)

    run = retry_cycle_run(trigger="schedule")

    assert one(caplog, "retry_cycle.send_failed", logging.ERROR).count == 4
    unavailable = one(caplog, "retry_cycle.queue_unavailable", logging.ERROR)
    assert "queue is down" in unavailable.error
    assert one(caplog, "retry_cycle.finished", logging.INFO).error == run.error


def test_a_database_update_that_fails_is_an_error_with_its_traceback(
    batch_with_failures, caplog, monkeypatch
):
    def broken(**kwargs):
        raise DatabaseError("disk full")

    monkeypatch.setattr(retry, "messages_claim_for_retry", broken)

    with pytest.raises(DatabaseError):
        retry_cycle_run(trigger="schedule")

    record = one(caplog, "retry_cycle.failed", logging.ERROR)
    assert "disk full" in record.error
    assert record.exc_info is not None
    assert not events(caplog, "retry_cycle.finished")


# Manual triggers, and who


def test_a_manual_trigger_logs_who_asked(super_admin, caplog, django_capture_on_commit_callbacks):
    Heartbeat.objects.create(name="worker", beat_at=timezone.now())  # a worker is alive

    retry_cycle_trigger(trigger="console", user=super_admin)

    record = one(caplog, "retry_cycle.triggered", logging.INFO)
    assert (record.by, record.trigger) == ("super", "console")


def test_a_manual_run_and_a_dry_run_log_who_asked(batch_with_failures, super_admin, caplog):
    retry_cycle_run(trigger="api", user=super_admin, dry_run=True)
    retry_cycle_run(trigger="api", user=super_admin)

    dry = one(caplog, "retry_cycle.dry_run", logging.INFO)
    assert (dry.by, dry.requeued) == ("super", 4)
    assert one(caplog, "retry_cycle.started", logging.INFO).by == "super"


def test_a_one_click_retry_logs_who_asked(batch_with_failures, super_admin, caplog):
    ids = list(MessageLog.objects.values_list("id", flat=True))

    message_retry(message_ids=ids, user=super_admin)

    record = one(caplog, "message_retry.triggered", logging.INFO)
    assert (record.by, record.requested, record.requeued) == ("super", 4, 4)


def test_retention_cleanup_logs_what_it_deleted(caplog):
    cleanup_run()
    record = one(caplog, "retention.cleanup", logging.INFO)
    assert (record.finished, record.failed, record.rule) == (0, 0, "invalid")


# The helper and the services


def test_a_field_cannot_overwrite_what_logging_itself_records():
    with pytest.raises(ValueError, match="msg"):
        log_event(logging.getLogger("retry_admin"), logging.INFO, "x", "x", msg="clash")


@pytest.mark.parametrize(
    ("argv", "service"),
    [
        (["manage.py", "qcluster"], "worker"),
        (["manage.py", "run_sender", "--until-empty"], "sender"),
        (["manage.py", "runserver"], None),
        (["manage.py"], None),
    ],
)
def test_the_services_that_log_their_start_and_stop(argv, service):
    assert service_of(argv) == service


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("log_format", ["json", "text"])
def test_a_service_logs_its_start_and_stop_one_line_each(workers, log_format):
    process = workers.start("run_sender", "--until-empty", LOG_FORMAT=log_format)
    assert process.wait(timeout=60) == 0, workers.output()

    lines = [line for line in workers.full_output().splitlines() if "service." in line]
    if log_format == "json":
        records = [json.loads(line) for line in lines]
        assert [(r["event"], r["service"], r["level"]) for r in records] == [
            ("service.started", "sender", "INFO"),
            ("service.stopped", "sender", "INFO"),
        ]
        assert records[0]["pid"] == records[1]["pid"] == process.pid
        assert records[0]["time"] <= records[1]["time"]
    else:
        assert len(lines) == 2, lines
        assert "level=INFO" in lines[0] and "event=service.started" in lines[0]
        assert f"pid={process.pid}" in lines[0] and "service=sender" in lines[0]
        assert "event=service.stopped" in lines[1] and "uptime_seconds=" in lines[1]


# Queue sends outside the cycle, and health checks


def test_a_batch_whose_sends_the_queue_refuses_is_an_error(
    template, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    from retry_admin.services.batches import batch_create
    from tests.conftest import make_rows, run_queued_tasks

    def down(self, bodies, **kwargs):
        raise QueueError("queue is down")

    monkeypatch.setattr(DatabaseQueue, "send", down)
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(name="B", template=template, recipients=make_rows(3)).batch
    run_queued_tasks()  # the outbox dispatch finds it down too

    refused = events(caplog, "queue.send_failed")
    assert [record.levelno for record in refused] == [logging.ERROR, logging.ERROR]
    assert (refused[0].batch, refused[0].count) == (batch.pk, 3)
    assert all("queue is down" in record.error for record in refused)


def test_a_failing_health_check_is_an_error_once_and_its_recovery_is_logged(caplog, monkeypatch):
    from retry_admin.services import health

    monkeypatch.setattr(health, "_FAILURES", health._FailureLog())
    queue = {"ok": False, "error": "connection refused"}
    monkeypatch.setattr(health, "queue_status", lambda: dict(queue))

    health.health_check()
    health.health_check()  # a load balancer probes every few seconds: one line, not one each

    [failed] = [r for r in events(caplog, "health.check_failed") if r.check == "queue"]
    assert (failed.levelno, failed.error) == (logging.ERROR, "connection refused")

    queue.update(ok=True, error="")
    health.health_check()

    [back] = [r for r in events(caplog, "health.check_ok") if r.check == "queue"]
    assert back.levelno == logging.INFO
