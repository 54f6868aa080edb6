"""The endpoints existing clients call, with their exact seed shapes."""

from datetime import datetime

import pytest
from django_q.models import OrmQ

from retry_admin.models import MessageLog, RetryRun, Status
from retry_admin.queues import reset_backends
from retry_admin.tasks import run_retry_cycle
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

TRIGGER = "/api/campaigns/retry-failed-messages"
QUEUE_STATUS = "/api/Diagnostics/QueueStatus"
STATS = "/api/Statistics/GetMessageStatusStats"


def _iso(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# Retry trigger


def test_it_triggers_a_retry_cycle_in_the_background_with_the_seed_shape(
    as_super, super_admin, batch_with_failures, live_worker
):
    super_admin.email = "super@example.com"
    super_admin.save()

    response = as_super.post(TRIGGER)

    assert response.status_code == 202  # queued for the live worker
    body = response.json()
    assert set(body) == {"success", "message", "data"}
    assert body["success"] is True
    assert body["message"] == "Failed message retry processing triggered successfully"
    assert set(body["data"]) == {"triggeredAt", "triggeredBy", "status"}
    assert body["data"]["status"] == "queued"
    assert body["data"]["triggeredBy"] == "super@example.com"
    assert _iso(body["data"]["triggeredAt"]).tzinfo is not None
    # Queued for the worker, not run in the request.
    assert not RetryRun.objects.exists()
    [queued] = OrmQ.objects.all()
    task = queued.task
    assert task["func"] == "retry_admin.tasks.run_retry_cycle"
    assert task["args"] == (RetryRun.Trigger.API, super_admin.pk)

    # What the worker then runs.
    run_retry_cycle(*task["args"])
    run = RetryRun.objects.get()
    assert (run.trigger, run.actor, run.requeued) == ("api", super_admin, 4)


def test_it_names_the_username_when_the_user_has_no_email(as_system, live_worker):
    response = as_system.post(TRIGGER)
    assert response.json()["data"]["triggeredBy"] == "sysadmin"


def test_it_reports_a_dry_run_synchronously_and_changes_nothing(as_super, batch_with_failures):
    response = as_super.post(f"{TRIGGER}?dryRun=true")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    data = body["data"]
    assert data["dryRun"] is True
    assert (data["selected"], data["requeued"], data["skipped"]) == (4, 4, 0)
    assert data["triggeredBy"] == "super"
    assert not OrmQ.objects.exists()
    assert not RetryRun.objects.exists()
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.FAILED}


def test_it_refuses_a_dry_run_flag_that_is_not_a_boolean(as_super):
    assert_error(as_super.post(f"{TRIGGER}?dryRun=maybe"), 400, "dryRun")
    assert not OrmQ.objects.exists()


def test_it_refuses_the_trigger_to_a_viewer_and_an_anonymous_caller(as_viewer, anonymous):
    assert_error(as_viewer.post(TRIGGER), 403, "read-only")
    response = anonymous.post(TRIGGER)
    assert_error(response, 401, "credentials")
    assert response["WWW-Authenticate"] == "Bearer"
    assert not OrmQ.objects.exists()


def test_it_answers_405_to_a_get_on_the_trigger(as_super):
    assert_error(as_super.get(TRIGGER), 405, "GET")


# Queue status


def test_it_reports_the_queue_status_with_the_seed_shape(as_viewer, make_batch):
    make_batch(3)

    response = as_viewer.get(QUEUE_STATUS)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["queueLength"] == 3
    assert _iso(body["timestamp"]).tzinfo is not None
    assert (body["inFlight"], body["delayed"], body["deadLettered"]) == (0, 0, 0)
    assert "db queue" in body["backend"]


def test_it_counts_dead_lettered_and_in_flight_messages(as_viewer, make_dead_lettered, make_batch):
    make_dead_lettered(2)
    make_batch(1)
    from retry_admin.queues import get_backend

    get_backend().receive(1, visibility_timeout=60)

    body = as_viewer.get(QUEUE_STATUS).json()

    assert (body["queueLength"], body["inFlight"], body["deadLettered"]) == (0, 1, 2)


def test_it_answers_503_with_a_clear_error_when_the_queue_is_unreachable(as_viewer, settings):
    settings.QUEUE_BACKEND = "no-such-backend"
    reset_backends()

    response = as_viewer.get(QUEUE_STATUS)

    body = assert_error(response, 503, "queue is unreachable", "no-such-backend")
    assert _iso(body["timestamp"]).tzinfo is not None


def test_it_refuses_the_queue_status_to_an_anonymous_caller(anonymous):
    assert_error(anonymous.get(QUEUE_STATUS), 401)


# Statistics


def test_it_reports_message_status_stats(as_viewer, batch_with_failures, make_batch):
    make_batch(2)

    response = as_viewer.get(STATS)

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["total"] == 6
    assert body["counts"] == {
        "pending": 2,
        "sent": 0,
        "failed": 4,
        "permanentlyFailed": 0,
        "deadLettered": 0,
    }
    assert len(body["counts"]) == len(Status.values)
    assert body["retrySuccessRate"] is None
    assert (body["recovered"], body["permanentlyFailed"]) == (0, 0)
    assert body["attemptDurations"] == {"count": 0, "avgMs": None, "p95Ms": None}


def test_it_reports_the_retry_success_rate_and_durations(as_viewer, make_batch):
    from retry_admin.services.sender import sender_drain

    batch = make_batch(4)
    sender_drain(until_empty=True)
    ids = list(MessageLog.objects.filter(batch=batch).values_list("id", flat=True))
    MessageLog.objects.filter(id__in=ids[:3]).update(retry_count=1, enqueue_source="retry")
    MessageLog.objects.filter(id=ids[0]).update(status=Status.PERMANENTLY_FAILED)

    body = as_viewer.get(STATS).json()

    assert (body["recovered"], body["permanentlyFailed"]) == (2, 1)
    assert body["retrySuccessRate"] == pytest.approx(2 / 3, abs=1e-3)
    assert body["attemptDurations"]["count"] == 4
    assert body["attemptDurations"]["avgMs"] is not None


def test_it_refuses_stats_to_an_anonymous_caller_and_a_non_staff_user(anonymous, django_user_model):
    from tests.api.conftest import bearer

    assert_error(anonymous.get(STATS), 401)
    outsider = django_user_model.objects.create_user("outsider", password="pw")
    assert_error(bearer(outsider).get(STATS), 403, "staff")
