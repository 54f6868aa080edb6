"""The health page: parts of the system, schedules, retry runs, audit log."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from retry_admin.models import AuditEvent
from retry_admin.services import health
from retry_admin.services.health import heartbeat
from retry_admin.services.retry import retry_cycle_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def started_long_ago(monkeypatch):
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now() - timedelta(hours=1))


def test_it_shows_each_part_and_what_is_down(super_client, started_long_ago):
    heartbeat("sender")

    html = super_client.get("/health/").content.decode()

    assert "Something needs attention" in html  # the scheduler never reported
    assert "never seen" in html
    assert "db queue" in html


def test_all_up_reads_as_such(super_client):
    call_command("setup_retry_admin", verbosity=0)
    heartbeat("worker")
    heartbeat("sender")
    heartbeat("scheduler")

    fragment = super_client.get("/health/", HTTP_HX_REQUEST="true").content.decode()

    assert fragment.lstrip().startswith('<section id="checks"')
    assert "Everything is running" in fragment

    assert "Retry cycle" in fragment and "last run never" in fragment


def test_a_fresh_start_reads_as_starting_not_down(super_client, monkeypatch):
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now())  # the web server
    call_command("setup_retry_admin", verbosity=0)

    fragment = super_client.get("/health/", HTTP_HX_REQUEST="true").content.decode()

    assert "Starting: waiting for the workers to report in" in fragment
    assert "Starting up" in fragment  # not healthy yet (/healthz is 503), but nothing is down
    assert "Something needs attention" not in fragment
    assert "starting: not reported yet" in fragment
    assert "never seen" not in fragment


def test_schedules_runs_and_the_audit_log(super_client, super_admin, batch_with_failures):
    call_command("setup_retry_admin", verbosity=0)
    retry_cycle_run(trigger="console", user=super_admin)

    html = super_client.get("/health/").content.decode()

    assert "retry_admin.tasks.run_retry_cycle" in html
    assert "Console · super" in html
    assert "Triggered a retry cycle" in html
    assert AuditEvent.objects.count() == 1


def test_the_audit_log_pages(super_client, super_admin):
    for i in range(55):
        AuditEvent.objects.create(actor_name="super", action="dlq_purge", target=f"t{i}")

    first = super_client.get("/health/").content.decode()
    older = super_client.get("/health/", {"before": first.split('href="?before=')[1].split('"')[0]})

    assert first.count("Purged the DLQ") == 50
    assert older.content.decode().count("Purged the DLQ") == 5


def test_healthz_stays_json_without_auth(client):
    response = client.get("/healthz")

    assert response["Content-Type"] == "application/json"
    assert response.status_code in (200, 503)
