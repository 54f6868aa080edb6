"""GET /api/messages/, /api/messages/<id>/ and retrying: one, a list, a filter."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.models import AuditEvent, DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.services.sender import sender_drain
from tests.api.conftest import assert_error, dlq_ids, message_ids

pytestmark = pytest.mark.django_db

URL = "/api/messages/"
BULK = "/api/messages/retry"


def _statuses(ids) -> list[str]:
    by_id = dict(MessageLog.objects.filter(id__in=ids).values_list("id", "status"))
    return [by_id[pk] for pk in ids]


# Listing


def test_it_lists_messages_newest_first(as_viewer, make_batch):
    batch = make_batch(3)
    ids = message_ids(batch)

    response = as_viewer.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert [m["id"] for m in body["results"]] == [str(pk) for pk in reversed(ids)]
    assert (body["next"], body["previous"], body["next_cursor"], body["prev_cursor"]) == (
        None,
        None,
        None,
        None,
    )
    first = body["results"][0]
    assert first["batch"] == batch.pk
    assert first["status"] == "pending"
    assert {"recipient", "retry_count", "attempt_count", "last_error", "created_at"} <= set(first)


def test_it_filters_messages_like_the_messages_page(as_viewer, batch_with_failures, make_batch):
    make_batch(2, recipients=None, name="Other")
    failed = message_ids(batch_with_failures)

    by_status = as_viewer.get(URL, {"status": "failed"}).json()["results"]
    by_batch = as_viewer.get(URL, {"batch": batch_with_failures.pk}).json()["results"]
    by_recipient = as_viewer.get(URL, {"recipient": "user1@"}).json()["results"]
    today = timezone.localdate().isoformat()
    by_date = as_viewer.get(URL, {"created_from": today, "created_to": today}).json()["results"]
    blank = as_viewer.get(URL, {"status": "", "recipient": ""}).json()["results"]

    assert {m["id"] for m in by_status} == {str(pk) for pk in failed}
    assert {m["id"] for m in by_batch} == {str(pk) for pk in failed}
    assert {m["recipient"] for m in by_recipient} == {"user1@example.com"}
    assert len(by_date) == len(blank) == 6


def test_it_pages_with_cursors_both_ways(as_viewer, make_batch):
    ids = message_ids(make_batch(5))

    first = as_viewer.get(URL, {"limit": 2}).json()
    second = as_viewer.get(first["next"]).json()
    back = as_viewer.get(second["previous"]).json()

    newest_first = [str(pk) for pk in reversed(ids)]
    assert [m["id"] for m in first["results"]] == newest_first[:2]
    assert [m["id"] for m in second["results"]] == newest_first[2:4]
    assert second["next_cursor"] == newest_first[3]
    assert "limit=2" in second["next"]
    assert [m["id"] for m in back["results"]] == newest_first[:2]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"batch": "abc"}, "batch"),
        ({"batch": "²"}, "batch"),
        ({"batch": "0"}, "batch"),
        ({"created_from": "yesterday"}, "created_from"),
        ({"created_from": "2026-02-02", "created_to": "2026-02-01"}, "created_to"),
        ({"recipient": "x" * 321}, "recipient"),
        ({"recipient": "a\x00b"}, "recipient"),
        ({"after": "not-a-cursor"}, "after"),
        ({"before": "123"}, "before"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
    ],
)
def test_it_refuses_bad_filter_values_and_cursors(as_viewer, params, field):
    body = assert_error(as_viewer.get(URL, params), 400, field)
    assert field in body["errors"]


# One message


def test_it_shows_a_message_with_its_attempts(as_viewer, make_batch):
    batch = make_batch(1)
    sender_drain(until_empty=True)
    [pk] = message_ids(batch)

    response = as_viewer.get(f"{URL}{pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["status"], body["batch"]) == (str(pk), "sent", batch.pk)
    assert (body["batch_name"], body["template"]) == ("Test batch", "Greeting")
    assert body["context"] == {"name": "N0"}
    [attempt] = body["attempts"]
    assert (attempt["number"], attempt["source"], attempt["outcome"]) == (1, "queue", "sent")
    assert attempt["duration_ms"] >= 0


def test_it_answers_404_json_for_an_unknown_or_malformed_message_id(as_viewer):
    assert_error(as_viewer.get(f"{URL}{uuid.uuid4()}/"), 404, "Unknown message")
    assert_error(as_viewer.get(f"{URL}not-a-uuid/"), 404, "UUID")


# Retrying one


def test_it_retries_one_failed_message(as_system, system_admin, batch_with_failures):
    pk, *others = message_ids(batch_with_failures)

    response = as_system.post(f"{URL}{pk}/retry")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert (body["requested"], body["requeued"], body["already_queued"]) == (1, 1, 0)
    assert _statuses([pk]) == [Status.PENDING]
    assert set(_statuses(others)) == {Status.FAILED}
    assert QueueMessage.objects.count() == 1
    assert AuditEvent.objects.filter(action="message_retry", actor=system_admin).exists()


def test_a_double_click_enqueues_once(as_super, batch_with_failures):
    [pk, *_] = message_ids(batch_with_failures)

    as_super.post(f"{URL}{pk}/retry")
    again = as_super.post(f"{URL}{pk}/retry").json()

    assert (again["requeued"], again["already_queued"]) == (0, 1)
    assert QueueMessage.objects.count() == 1


def test_it_replays_a_dead_lettered_message_from_the_dlq(as_super, make_dead_lettered):
    [pk, *_] = message_ids(make_dead_lettered(2))

    body = as_super.post(f"{URL}{pk}/retry").json()

    assert body["dlq_replayed"] == 1
    assert _statuses([pk]) == [Status.PENDING]
    assert len(dlq_ids()) == 1


def test_it_answers_409_for_a_sent_message(as_super, make_batch):
    batch = make_batch(1)
    sender_drain(until_empty=True)
    [pk] = message_ids(batch)

    assert_error(as_super.post(f"{URL}{pk}/retry"), 409, "cannot be retried")
    assert _statuses([pk]) == [Status.SENT]


def test_it_answers_404_when_retrying_an_unknown_message(as_super):
    assert_error(as_super.post(f"{URL}{uuid.uuid4()}/retry"), 404, "Unknown message")
    assert_error(as_super.post(f"{URL}nope/retry"), 404, "UUID")
    assert not AuditEvent.objects.exists()


def test_a_viewer_cannot_retry(as_viewer, anonymous, batch_with_failures):
    [pk, *_] = message_ids(batch_with_failures)
    assert_error(as_viewer.post(f"{URL}{pk}/retry"), 403)
    assert_error(anonymous.post(f"{URL}{pk}/retry"), 401)
    assert_error(as_viewer.post(BULK, {"ids": [str(pk)]}, format="json"), 403)
    assert_error(anonymous.post(BULK, {"ids": [str(pk)]}, format="json"), 401)
    assert set(_statuses(message_ids(batch_with_failures))) == {Status.FAILED}


# Retrying many


def test_it_retries_a_list_of_ids_and_says_how_many(as_super, batch_with_failures, make_batch):
    failed = message_ids(batch_with_failures)
    pending = message_ids(make_batch(1, name="Fresh"))
    ids = [*failed[:2], *pending]

    response = as_super.post(BULK, {"ids": [str(pk) for pk in ids]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert (body["requested"], body["requeued"], body["already_queued"]) == (3, 2, 1)
    assert body["message"] == "Retrying 2 messages, 1 already queued"
    assert _statuses(failed) == [Status.PENDING, Status.PENDING, Status.FAILED, Status.FAILED]


def test_it_retries_an_id_listed_twice_once(as_super, batch_with_failures):
    first, second, *_ = (str(pk) for pk in message_ids(batch_with_failures))

    body = as_super.post(BULK, {"ids": [first, second, first]}, format="json").json()

    assert (body["requested"], body["requeued"]) == (2, 2)


def test_an_unknown_id_refuses_the_whole_list(as_super, batch_with_failures):
    ids = [str(pk) for pk in message_ids(batch_with_failures)]
    stranger = str(uuid.uuid4())

    assert_error(as_super.post(BULK, {"ids": [*ids, stranger]}, format="json"), 400, stranger)

    assert set(_statuses(message_ids(batch_with_failures))) == {Status.FAILED}
    assert not QueueMessage.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_retries_what_a_filter_matches(as_super, batch_with_failures, make_batch):
    other = make_batch(2, name="Other")
    MessageLog.objects.filter(batch=other).update(status=Status.FAILED)

    response = as_super.post(
        BULK, {"filter": {"status": "failed", "batch": batch_with_failures.pk}}, format="json"
    )

    body = response.json()
    assert response.status_code == 200
    assert (body["requested"], body["requeued"]) == (4, 4)
    assert set(_statuses(message_ids(batch_with_failures))) == {Status.PENDING}
    assert set(_statuses(message_ids(other))) == {Status.FAILED}


def test_a_filter_preview_counts_and_its_token_retries_exactly_that(as_super, batch_with_failures):
    preview = as_super.post(
        BULK, {"filter": {"batch": batch_with_failures.pk}, "preview": True}, format="json"
    ).json()
    assert (preview["count"], len(preview["sample"])) == (4, 4)
    assert set(_statuses(message_ids(batch_with_failures))) == {Status.FAILED}
    # A message that fails after the preview is not swept in.
    late = MessageLog.objects.filter(batch=batch_with_failures).first()
    MessageLog.objects.filter(pk=late.pk).update(updated_at=timezone.now() + timedelta(seconds=5))

    body = as_super.post(BULK, {"token": preview["token"]}, format="json").json()

    assert body["requeued"] == 3
    assert MessageLog.objects.get(pk=late.pk).status == Status.FAILED


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "exactly one of ids, filter or token"),
        ({"ids": [], "filter": {}}, "ids"),
        ({"ids": ["x"]}, "uuid"),
        ({"ids": [str(uuid.UUID(int=1))], "filter": {"status": "failed"}}, "exactly one"),
        ({"filter": {"status": "lost"}}, "filter.status"),
        ({"filter": {"satus": "failed"}}, "Unknown filter 'satus'"),
        ({"filter": {"batch": "abc"}}, "filter.batch"),
        ({"filter": "failed"}, "filter"),
        ({"ids": [str(uuid.UUID(int=1))], "preview": True}, "preview needs a filter"),
        ({"token": "forged"}, "preview again"),
    ],
)
def test_it_refuses_bad_bulk_requests_and_changes_nothing(
    as_super, batch_with_failures, payload, fragment
):
    assert_error(as_super.post(BULK, payload, format="json"), 400, fragment)
    assert set(_statuses(message_ids(batch_with_failures))) == {Status.FAILED}
    assert not DeliveryAttempt.objects.exists()
    assert not QueueMessage.objects.exists()


@pytest.mark.parametrize(
    "params",
    [
        {"created_from": "0352-04-29"},
        {"created_to": "1969-12-31"},
        {"created_to": "9999-12-31"},
        {"created_from": "9000-01-01"},
    ],
)
def test_it_accepts_dates_far_in_the_past_or_future(as_viewer, make_batch, params):
    make_batch(1)
    response = as_viewer.get(URL, params)
    assert response.status_code == 200, response.content
    if "created_from" in params and params["created_from"] < "1970":
        assert len(response.json()["results"]) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"ids": [5]}, "ids[0]"),
        ({"filter": {"batch": "3"}}, "filter.batch"),
        ({"filter": {}, "preview": 0}, "preview"),
        ({"token": 12}, "token"),
    ],
)
def test_a_json_value_must_have_the_documented_type(as_super, batch_with_failures, payload, field):
    body = assert_error(as_super.post(BULK, payload, format="json"), 400)
    assert field in body["errors"]
    assert set(_statuses(message_ids(batch_with_failures))) == {Status.FAILED}


def test_it_asks_for_more_of_a_recipient_prefix_matching_too_many(
    as_viewer, make_batch, monkeypatch
):
    monkeypatch.setattr("retry_admin.selectors.messages.RECIPIENT_MATCH_LIMIT", 3)
    batch = make_batch(5)

    broad = as_viewer.get(URL, {"recipient": "user"})
    narrow = as_viewer.get(URL, {"recipient": "user4@"})

    assert_error(broad, 400, "More than 3 messages start with “user”: type more of the address.")
    assert broad.json()["errors"]["recipient"]
    assert [m["id"] for m in narrow.json()["results"]] == [
        str(m.pk) for m in MessageLog.objects.filter(batch=batch, recipient__startswith="user4@")
    ]
