"""Liveness, readiness ("starting" vs "down") and the retry service's status
(services/health.py), through /healthz and /healthz/live."""

from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_q.models import Schedule

from retry_admin.locks import lock_acquire
from retry_admin.models import Heartbeat, RetryRun
from retry_admin.schedules import RETRY_CYCLE, schedules_ensure
from retry_admin.services import health
from retry_admin.services.health import RUNNER_BEAT, heartbeat, retry_service_status
from retry_admin.services.retry import CYCLE_LOCK

pytestmark = pytest.mark.django_db

AGO = timedelta(hours=1)


@pytest.fixture
def started_long_ago(monkeypatch):
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now() - AGO)


@pytest.fixture
def started_now(monkeypatch):
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now())


def _age(name: str, seconds: float) -> None:
    Heartbeat.objects.filter(name=name).update(beat_at=timezone.now() - timedelta(seconds=seconds))


def _all_up(worker_started=None) -> None:
    schedules_ensure()
    started = worker_started or timezone.now() - AGO
    heartbeat("worker", started_at=started.isoformat())
    heartbeat("scheduler")
    heartbeat(RUNNER_BEAT, state="idle", wakes_on="poll", received=0, sent=0)


# Liveness


def test_liveness_is_200_at_once_whatever_the_workers_do(client, started_now):
    response = client.get("/healthz/live")
    assert response.status_code == 200
    assert response.json()["alive"] is True
    assert response.json()["checks"]["database"]["ok"] is True
    assert "no-cache" in response["Cache-Control"]
    assert client.get("/healthz").status_code == 503  # the detail still waits for them


def test_liveness_is_503_when_the_database_is_down(client, monkeypatch):
    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(health.connection, "cursor", down)
    response = client.get("/healthz/live")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["error"] == "OperationalError: connection refused"


def test_liveness_refuses_a_post(client):
    assert client.post("/healthz/live").status_code == 405


# Starting vs down


def test_a_fresh_system_says_starting_not_down(client, started_now):
    schedules_ensure()
    response = client.get("/healthz")
    assert response.status_code == 503
    report = response.json()
    assert report["status"] == "starting"
    for name in ("worker", "scheduler", "sender"):
        assert report["checks"][name]["state"] == "starting"
        assert report["checks"][name]["error"] == "starting: not reported yet"


def test_the_same_silence_long_after_the_start_is_down(client, started_long_ago):
    schedules_ensure()
    report = client.get("/healthz").json()
    assert report["status"] == "down"
    assert report["checks"]["scheduler"] == {"ok": False, "state": "down", "error": "never seen"}


def test_a_restarted_worker_makes_a_silent_scheduler_starting(client, started_long_ago):
    _all_up(worker_started=timezone.now())  # the worker came back just now
    _age("scheduler", health.STALE_AFTER["scheduler"] + 60)  # its old scheduler went silent
    report = client.get("/healthz").json()
    assert report["status"] == "starting"
    assert report["checks"]["scheduler"]["state"] == "starting"
    assert report["checks"]["scheduler"]["error"] == "starting: restarted"


def test_a_dead_worker_is_down_within_its_short_staleness(client, started_long_ago):
    _all_up()
    _age("worker", health.STALE_AFTER["worker"] + 1)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["worker"]["state"] == "down"
    assert response.json()["status"] == "down"


def test_one_down_part_outweighs_a_starting_one(client, started_now):
    _all_up()
    _age("worker", health.STALE_AFTER["worker"] + 1)
    Heartbeat.objects.filter(name="scheduler").delete()
    assert client.get("/healthz").json()["status"] == "down"


# The sender


def test_an_idle_long_running_sender_is_up_and_says_so(client, started_long_ago):
    _all_up()
    check = client.get("/healthz").json()["checks"]["sender"]
    assert check["ok"] is True
    assert (check["mode"], check["activity"], check["wakes_on"]) == ("run_sender", "idle", "poll")


def test_a_stopped_long_running_sender_is_down(client, started_long_ago):
    _all_up()
    heartbeat(RUNNER_BEAT, state="stopped")
    check = client.get("/healthz").json()["checks"]["sender"]
    assert (check["ok"], check["state"], check["error"]) == (False, "down", "stopped")


def test_the_scheduled_sender_counts_when_it_beat_last(client, started_long_ago):
    _all_up()
    _age(RUNNER_BEAT, 600)
    heartbeat("sender", received=7, sent=7)
    check = client.get("/healthz").json()["checks"]["sender"]
    assert (check["ok"], check["mode"], check["received"]) == (True, "schedule", 7)


# The retry cycle (messageRetryStatus)


def _run(started_ago: timedelta, **fields) -> RetryRun:
    started = timezone.now() - started_ago
    return RetryRun.objects.create(
        trigger="schedule", started_at=started, finished_at=started + timedelta(seconds=2), **fields
    )


def _schedule_next(delta: timedelta) -> None:
    Schedule.objects.filter(name=RETRY_CYCLE).update(next_run=timezone.now() + delta)


def test_a_cycle_within_its_interval_is_fine(client, started_long_ago, settings):
    _all_up()
    _run(timedelta(hours=5), selected=4, requeued=3, skipped=1)
    _schedule_next(timedelta(hours=1))
    report = client.get("/healthz").json()
    assert report["healthy"] is True
    status = retry_service_status()
    assert status["running"] is False and status["overdue"] is False
    assert status["last_result"]["requeued"] == 3 and status["last_result"]["success"] is True


def test_a_cycle_overdue_past_interval_and_grace_is_unhealthy(client, started_long_ago, settings):
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 6
    settings.RETRY_CYCLE_GRACE_MINUTES = 15
    _all_up()
    _run(timedelta(hours=6, minutes=20))
    _schedule_next(-timedelta(minutes=20))  # due 20 min ago, nobody ran it
    response = client.get("/healthz")
    assert response.status_code == 503
    check = response.json()["checks"]["retry_cycle"]
    assert check["state"] == "down"
    assert check["error"] == "overdue by 5 min past its interval (6 h) and grace (15 min)"


def test_a_cycle_late_but_within_the_grace_is_fine(client, started_long_ago, settings):
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 6
    settings.RETRY_CYCLE_GRACE_MINUTES = 15
    _all_up()
    _run(timedelta(hours=6, minutes=10))
    _schedule_next(-timedelta(minutes=10))
    assert client.get("/healthz").status_code == 200


def test_a_manual_run_does_not_hide_a_stuck_schedule(client, started_long_ago, settings):
    settings.RETRY_CYCLE_GRACE_MINUTES = 15
    _all_up()
    _run(timedelta(minutes=1))  # someone pressed "run now"
    _schedule_next(-timedelta(hours=2))  # but the schedule has not fired for 2 h
    assert client.get("/healthz").json()["checks"]["retry_cycle"]["state"] == "down"


def test_a_cycle_that_never_ran_is_due_when_its_schedule_says(client, started_long_ago):
    _all_up()
    _schedule_next(-timedelta(minutes=5))
    assert client.get("/healthz").status_code == 200
    _schedule_next(-timedelta(minutes=16))
    assert client.get("/healthz").json()["checks"]["retry_cycle"]["state"] == "down"


def test_a_running_cycle_is_never_overdue(client, started_long_ago):
    _all_up()
    _schedule_next(-timedelta(hours=3))
    lock_acquire(CYCLE_LOCK, ttl_seconds=60)
    RetryRun.objects.create(trigger="schedule", started_at=timezone.now() - timedelta(hours=2))
    check = client.get("/healthz").json()["checks"]["retry_cycle"]
    assert (check["ok"], check["running"]) == (True, True)
    assert retry_service_status()["current_run_started"] is not None


def test_an_unscheduled_cycle_is_down(client, started_long_ago):
    _all_up()
    Schedule.objects.filter(name=RETRY_CYCLE).delete()
    check = client.get("/healthz").json()["checks"]["retry_cycle"]
    assert check["error"] == "not scheduled: run manage.py setup_retry_admin"


# The worker's heartbeat thread


def test_a_worker_beats_until_its_parent_is_gone(monkeypatch, transactional_db):
    monkeypatch.setattr(health, "WORKER_BEAT_SECONDS", 0.05)
    parent = [4242]
    monkeypatch.setattr(health.os, "getppid", lambda: parent[0])
    thread = health.worker_beats_start()
    deadline = timezone.now() + timedelta(seconds=5)
    while not Heartbeat.objects.filter(name="worker").exists():
        assert timezone.now() < deadline, "no worker beat"
    beat = Heartbeat.objects.get(name="worker")
    assert beat.details["cluster_pid"] == 4242
    parent[0] = 1  # the cluster died: the worker was re-parented
    thread.join(timeout=5)
    assert not thread.is_alive()
