"""The manual trigger says what happened (202 queued, 409 running, 503 no
worker), and GET /api/campaigns/retry-status is the design's
messageRetryStatus."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import OrmQ

from retry_admin.locks import lock_acquire
from retry_admin.models import Heartbeat, RetryRun
from retry_admin.schedules import RETRY_CYCLE, schedules_ensure
from retry_admin.services.health import STALE_AFTER, WORKER, heartbeat
from retry_admin.services.retry import CYCLE_LOCK
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

TRIGGER = "/api/campaigns/retry-failed-messages"
STATUS = "/api/campaigns/retry-status"


# The trigger


def test_it_answers_202_queued_when_a_worker_is_alive(as_super, live_worker):
    response = as_super.post(TRIGGER)
    assert response.status_code == 202
    assert response.json()["data"]["status"] == "queued"
    assert OrmQ.objects.count() == 1


def test_it_answers_503_and_queues_nothing_without_a_live_worker(as_super):
    response = as_super.post(TRIGGER)
    assert_error(response, 503, "No worker is running")
    assert response["Retry-After"] == "30"
    assert not OrmQ.objects.exists()


def test_a_worker_silent_past_its_limit_is_not_alive(as_super):
    heartbeat(WORKER)
    Heartbeat.objects.filter(name=WORKER).update(
        beat_at=timezone.now() - timedelta(seconds=STALE_AFTER[WORKER] + 1)
    )
    assert as_super.post(TRIGGER).status_code == 503
    assert not OrmQ.objects.exists()


def test_it_answers_409_while_a_cycle_runs_even_without_a_worker(as_super):
    lock_acquire(CYCLE_LOCK, ttl_seconds=60)
    response = as_super.post(TRIGGER)
    assert_error(response, 409, "already running")
    assert not OrmQ.objects.exists()


def test_a_dry_run_needs_no_worker(as_super):
    assert as_super.post(f"{TRIGGER}?dryRun=true").status_code == 200


# The status


def test_the_status_before_any_run(as_viewer):
    schedules_ensure()
    response = as_viewer.get(STATUS)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"success", "messageRetryStatus", "timestamp"}
    status = body["messageRetryStatus"]
    assert status["isRunning"] is False
    assert status["lastRun"] is None and status["lastResult"] is None
    assert status["nextRun"].endswith("Z")
    assert (status["intervalHours"], status["graceMinutes"], status["overdue"]) == (6, 15, False)


def test_the_status_after_a_run_and_while_one_runs(as_viewer):
    schedules_ensure()
    started = timezone.now() - timedelta(hours=1)
    run = RetryRun.objects.create(
        trigger="schedule",
        started_at=started,
        finished_at=started + timedelta(seconds=3),
        selected=5,
        requeued=4,
        skipped=1,
    )
    lock_acquire(CYCLE_LOCK, ttl_seconds=60)
    RetryRun.objects.create(trigger="api", started_at=timezone.now())
    status = as_viewer.get(STATUS).json()["messageRetryStatus"]
    assert status["isRunning"] is True and status["currentRunStartedAt"].endswith("Z")
    assert status["lastRun"] == started.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    result = status["lastResult"]
    assert (result["run"], result["requeued"], result["skipped"]) == (run.pk, 4, 1)
    assert (result["durationSeconds"], result["success"], result["error"]) == (3.0, True, "")


def test_the_status_says_overdue(as_viewer):
    schedules_ensure()
    from django_q.models import Schedule

    Schedule.objects.filter(name=RETRY_CYCLE).update(next_run=timezone.now() - timedelta(hours=1))
    assert as_viewer.get(STATUS).json()["messageRetryStatus"]["overdue"] is True


def test_the_status_needs_sign_in(client):
    assert client.get(STATUS).status_code == 401
