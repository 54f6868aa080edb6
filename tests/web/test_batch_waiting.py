"""A batch is done only when nothing is left to send or retry: one whose
failed messages wait for the retry cycle says so, and when that runs."""

import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from retry_admin.models import Heartbeat, MessageLog, Status
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.services import health
from retry_admin.services.health import RUNNER_BEAT, heartbeat
from retry_admin.templatetags.console import stamp

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_batch(make_batch):
    """Three sent, one failed (transient): the retry cycle will take it."""
    call_command("setup_retry_admin", verbosity=0)
    batch = make_batch(4)
    first = MessageLog.objects.filter(batch=batch).order_by("id").first()
    MessageLog.objects.filter(batch=batch).exclude(pk=first.pk).update(status=Status.SENT)
    MessageLog.objects.filter(pk=first.pk).update(status=Status.FAILED, last_error="Timeout")
    return batch


def test_the_list_says_waiting_for_retry_not_done(super_client, waiting_batch):
    html = super_client.get("/batches/").content.decode()

    assert "✓ done" not in html
    assert f"waiting for retry (next cycle at {stamp(next_run(RETRY_CYCLE))})" in html


def test_the_batch_page_says_what_waits_and_when(super_client, waiting_batch):
    html = super_client.get(f"/batches/{waiting_batch.pk}/").content.decode()
    summary = re.search(r'data-testid="progress-summary">(.*?)</span>\n', html, re.S).group(1)

    assert "Complete" not in summary
    assert "Waiting for retry" in summary and "1</strong> failed message" in summary
    assert f"next cycle at {stamp(next_run(RETRY_CYCLE))}" in summary


def test_a_batch_with_nothing_left_is_done(super_client, waiting_batch):
    MessageLog.objects.filter(batch=waiting_batch).update(status=Status.PERMANENTLY_FAILED)

    assert "✓ done" in super_client.get("/batches/").content.decode()
    assert "Complete" in super_client.get(f"/batches/{waiting_batch.pk}/").content.decode()


# While messages are pending: what the sender is doing (issue 12, aim 3)


def _sender_line(super_client, batch) -> str:
    html = super_client.get(f"/batches/{batch.pk}/").content.decode()
    match = re.search(r'data-testid="sender-status">(.*?)</p>', html, re.S)
    return match.group(1) if match else ""


def test_a_pending_batch_says_the_sender_is_idle_and_when_it_was_seen(super_client, make_batch):
    heartbeat(RUNNER_BEAT, state="idle", wakes_on="notify", received=0, sent=0)
    line = _sender_line(super_client, make_batch(2))
    assert re.search(
        r"Sender idle, waiting for new messages \(wakes on notify\), last seen \d s ago\.", line
    ), line


def test_a_pending_batch_says_the_sender_is_working(super_client, make_batch):
    heartbeat(RUNNER_BEAT, state="working", received=1500, sent=1490)
    line = _sender_line(super_client, make_batch(2))
    assert "Sender working: 1,500 received, 1,490 sent since it started" in line


def test_a_pending_batch_says_when_no_sender_runs(super_client, make_batch, monkeypatch):
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now() - timedelta(hours=1))
    heartbeat(RUNNER_BEAT, state="stopped")
    Heartbeat.objects.filter(name=RUNNER_BEAT).update(
        beat_at=timezone.now() - timedelta(seconds=42)
    )
    line = _sender_line(super_client, make_batch(2))
    assert "No sender is running</span> (stopped 42 s ago)" in line
    assert "manage.py run_sender" in line


def test_a_finished_batch_says_nothing_about_the_sender(super_client, make_batch):
    batch = make_batch(2)
    MessageLog.objects.filter(batch=batch).update(status=Status.SENT)
    assert (
        'data-testid="sender-status"'
        not in super_client.get(f"/batches/{batch.pk}/").content.decode()
    )
