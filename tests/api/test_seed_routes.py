"""The seed routes as the seed systems answer them: one timestamp format,
any letter case, CreateBatchAndSend, camelCase stats, JSON for every /api/
answer (issue 13 items 11, 12, 13)."""

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.test import Client, RequestFactory

from retry_admin.api.timestamps import seed_timestamp
from retry_admin.errors import csrf_failure
from retry_admin.models import Batch, MessageLog, Status
from retry_admin.queues import reset_backends
from tests.api.conftest import assert_error
from tests.api.test_batches import _body

pytestmark = pytest.mark.django_db

SEED_STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
TRIGGER = "/api/campaigns/retry-failed-messages"
QUEUE_STATUS = "/api/Diagnostics/QueueStatus"
STATS = "/api/Statistics/GetMessageStatusStats"
CREATE = "/api/Batch/CreateBatchAndSend"
BODY = _body()


# Item 11: one timestamp format


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2024, 1, 15, 10, 30, tzinfo=UTC), "2024-01-15T10:30:00.000Z"),
        (datetime(2024, 1, 15, 10, 30, 0, 123999, tzinfo=UTC), "2024-01-15T10:30:00.123Z"),
        (
            datetime(2024, 1, 15, 11, 30, 5, 7000, tzinfo=timezone(timedelta(hours=1))),
            "2024-01-15T10:30:05.007Z",
        ),
    ],
)
def test_it_writes_the_seed_timestamp_format(moment, expected):
    assert seed_timestamp(moment) == expected


def test_it_answers_every_seed_timestamp_in_the_seed_format(
    as_super, settings, template, django_capture_on_commit_callbacks, live_worker
):
    settings.TIME_ZONE = "Europe/Paris"  # still UTC with a Z
    stamps = [
        as_super.post(TRIGGER).json()["data"]["triggeredAt"],
        as_super.post(TRIGGER + "?dryRun=true").json()["data"]["checkedAt"],
        as_super.get(QUEUE_STATUS).json()["timestamp"],
        as_super.get(STATS).json()["timestamp"],
    ]
    with django_capture_on_commit_callbacks(execute=True):
        stamps.append(as_super.post(CREATE, BODY, format="json").json()["created_at"])
    for stamp in stamps:
        assert SEED_STAMP.fullmatch(stamp), stamp


def test_it_answers_the_queue_outage_timestamp_in_the_seed_format(as_viewer, settings):
    settings.QUEUE_BACKEND = "sqs"
    settings.SQS_QUEUE_URL = "http://127.0.0.1:9/000000000000/nowhere"
    settings.AWS_ENDPOINT_URL = "http://127.0.0.1:9"
    reset_backends()
    try:
        response = as_viewer.get(QUEUE_STATUS)
    finally:
        reset_backends()
    assert response.status_code == 503
    assert SEED_STAMP.fullmatch(response.json()["timestamp"])


def test_our_own_resources_keep_iso_8601(as_super, template, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        created = as_super.post("/api/batches/", BODY, format="json").json()["created_at"]
    assert not SEED_STAMP.fullmatch(created)  # microseconds, as documented for them
    assert datetime.fromisoformat(created).tzinfo is not None


# Item 12: every /api/ answer is JSON


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/nowhere", "/api/nowhere/", "/api/campaigns/x/"])
def test_an_unsafe_method_on_an_unknown_api_path_is_a_json_404(method, path):
    response = getattr(Client(enforce_csrf_checks=True), method)(path)
    assert_error(response, 404, "no api endpoint")


def test_the_trigger_with_a_trailing_slash_is_the_trigger_not_a_csrf_page(as_super):
    as_super.handler.enforce_csrf_checks = True
    response = as_super.post(TRIGGER + "/?dryRun=true")
    assert response.status_code == 200, response.content
    assert response.json()["data"]["dryRun"] is True


def test_a_session_post_without_its_csrf_token_is_a_json_403(super_admin):
    client = Client(enforce_csrf_checks=True)
    client.force_login(super_admin)
    for path in (TRIGGER, TRIGGER + "/", "/api/nowhere/but/here"):
        response = client.post(path)
        assert response["Content-Type"].startswith("application/json"), (path, response.content)
    assert_error(client.post(TRIGGER), 403, "csrf")


def test_a_csrf_refusal_under_api_is_json_and_elsewhere_django_s_page():
    factory = RequestFactory()
    api = csrf_failure(factory.post("/api/anything"), reason="CSRF cookie not set.")
    assert (api.status_code, api["Content-Type"]) == (403, "application/json")
    body = json.loads(api.content)
    assert body["success"] is False
    assert "CSRF" in body["message"] and "Bearer" in body["message"]
    page = csrf_failure(factory.post("/messages/"), reason="CSRF cookie not set.")
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


def test_a_refused_host_under_api_is_json():
    response = Client().get(QUEUE_STATUS, headers={"host": "evil.example"})
    assert_error(response, 400, "bad request")


def test_a_wrong_method_on_a_seed_route_is_json_405(as_super):
    assert_error(as_super.get(TRIGGER), 405)
    assert_error(as_super.get(CREATE), 405)
    assert_error(as_super.delete(QUEUE_STATUS), 405)


# Item 13: CreateBatchAndSend, any casing, one key casing


def test_it_creates_and_sends_a_batch_on_the_seed_route(
    as_super, template, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = as_super.post(CREATE, BODY, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get(pk=body["id"])
    assert (body["name"], body["total"], body["template"]["name"]) == ("Welcome", 2, "Greeting")
    assert MessageLog.objects.filter(batch=batch, status=Status.PENDING).count() == 2
    assert set(body) == {*as_super.get(f"/api/batches/{batch.pk}/").json(), "duplicates_removed"}


def test_create_batch_and_send_validates_and_authorises_like_batches(as_viewer, as_super):
    assert_error(as_viewer.post(CREATE, BODY, format="json"), 403)
    assert_error(as_super.post(CREATE, {**BODY, "recipients": []}, format="json"), 400)
    assert not Batch.objects.exists()


@pytest.mark.parametrize(
    "path",
    [
        "/api/batch/createbatchandsend",
        "/api/BATCH/CREATEBATCHANDSEND/",
        "/api/Batch/CreateBatchAndSend/",
    ],
)
def test_the_seed_routes_match_in_any_letter_case(
    path, as_super, template, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert as_super.post(path, BODY, format="json").status_code == 201
    assert as_super.get("/api/diagnostics/queuestatus").json()["success"] is True
    assert as_super.get("/api/STATISTICS/getmessagestatusstats/").json()["success"] is True
    assert as_super.post("/api/Campaigns/Retry-Failed-Messages?dryRun=true").status_code == 200


def test_our_own_routes_stay_as_written(as_super):
    assert_error(as_super.get("/api/Batches/"), 404)


def test_the_stats_keys_are_all_camel_case(as_viewer, batch_with_failures):
    MessageLog.objects.filter(pk=MessageLog.objects.first().pk).update(
        status=Status.PERMANENTLY_FAILED
    )
    body = as_viewer.get(STATS).json()

    assert body["counts"] == {
        "pending": 0,
        "sent": 0,
        "failed": 3,
        "permanentlyFailed": 1,
        "deadLettered": 0,
    }

    def keys(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield key
                yield from keys(item)

    assert all("_" not in key for key in keys(body)), sorted(keys(body))


def test_the_old_snake_case_counts_are_there_on_request(as_viewer, batch_with_failures):
    body = as_viewer.get(STATS, {"countKeys": "snake"}).json()
    assert body["counts"] == {
        "pending": 0,
        "sent": 0,
        "failed": 4,
        "permanently_failed": 0,
        "dead_lettered": 0,
    }
    assert_error(as_viewer.get(STATS, {"countKeys": "kebab"}), 400, "countKeys")


def test_the_schema_lists_create_batch_and_send_once_and_no_alias(as_viewer):
    paths = as_viewer.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths[CREATE]) == {"post"}
    assert paths[CREATE]["post"]["operationId"] == "create_batch_and_send"
    assert not [path for path in paths if "[" in path or "\\" in path]
    assert sum(1 for path in paths if path.lower() == CREATE.lower()) == 1
