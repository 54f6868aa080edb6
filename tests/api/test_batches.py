"""POST/GET /api/batches/: create and send, idempotency, validation, progress."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from retry_admin.models import AuditEvent, Batch, MessageLog, QueueMessage, Status, Template
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

URL = "/api/batches/"


def _body(**overrides) -> dict:
    return {
        "template": "Greeting",
        "name": "Welcome",
        "channel": "log",
        "recipients": [
            {"recipient": "+447700900001", "name": "Ada"},
            {"recipient": "+447700900002", "name": "Grace"},
        ],
        **overrides,
    }


@pytest.fixture
def post(django_capture_on_commit_callbacks):
    """POST a batch and run its after-commit dispatch, as outside a test transaction."""

    def post(client, body, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(URL, body, format="json", **headers)

    return post


def _nothing_written():
    assert not Batch.objects.exists()
    assert not MessageLog.objects.exists()
    assert not QueueMessage.objects.exists()


# Creating


def test_it_creates_and_sends_a_batch(post, as_super, super_admin, template):
    response = post(as_super, _body())

    assert response.status_code == 201, response.content
    body = response.json()
    batch = Batch.objects.get()
    assert body["id"] == batch.pk
    assert body["name"] == "Welcome"
    assert body["template"] == {"id": template.pk, "name": "Greeting"}
    assert (body["channel"], body["priority"], body["total"]) == ("log", 0, 2)
    assert body["created_by"] == "super"
    assert body["progress"] == {
        "pending": 2,
        "sent": 0,
        "failed": 0,
        "permanently_failed": 0,
        "dead_lettered": 0,
    }
    assert body["duplicates_removed"] == 0
    logs = MessageLog.objects.order_by("recipient")
    assert [(m.recipient, m.context) for m in logs] == [
        ("+447700900001", {"name": "Ada"}),
        ("+447700900002", {"name": "Grace"}),
    ]
    assert QueueMessage.objects.count() == 2
    assert AuditEvent.objects.get().actor == super_admin


def test_a_system_admin_may_create_a_batch_by_template_id(post, as_system, template):
    response = post(as_system, _body(template=template.pk, priority=5, channel="simulated"))

    assert response.status_code == 201, response.content
    batch = Batch.objects.get()
    assert (batch.template, batch.priority, batch.channel) == (template, 5, "simulated")


def test_it_defaults_the_name_and_channel(post, as_super, template, settings):
    settings.DEFAULT_CHANNEL = "simulated"
    body = _body()
    del body["name"], body["channel"]

    response = post(as_super, body)

    assert response.status_code == 201
    assert (response.json()["name"], response.json()["channel"]) == ("API batch", "simulated")


def test_it_sends_duplicate_recipients_once(post, as_super, template):
    body = _body(
        recipients=[
            {"recipient": "a@example.com", "name": "A"},
            {"recipient": "A@example.com", "name": "A again"},
        ]
    )

    response = post(as_super, body)

    assert (response.json()["total"], response.json()["duplicates_removed"]) == (1, 1)


def test_an_idempotency_key_returns_the_first_batch_instead_of_another(post, as_super, template):
    first = post(as_super, _body(), HTTP_IDEMPOTENCY_KEY="order-42")
    again = post(as_super, _body(), HTTP_IDEMPOTENCY_KEY="order-42")

    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first
    assert again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Batch.objects.count() == 1
    assert MessageLog.objects.count() == 2
    assert QueueMessage.objects.count() == 2

    other = post(as_super, _body(), HTTP_IDEMPOTENCY_KEY="order-43")
    assert other.status_code == 201
    assert Batch.objects.count() == 2


def test_an_idempotency_key_reused_with_a_different_body_answers_422(post, as_super, template):
    first = post(as_super, _body(), HTTP_IDEMPOTENCY_KEY="order-42")
    changed = _body(recipients=[{"recipient": "+447700900009", "name": "Eve"}])

    again = post(as_super, changed, HTTP_IDEMPOTENCY_KEY="order-42")

    assert_error(again, 422, "Idempotency-Key", "order-42", f"batch #{first.json()['id']}")
    assert post(as_super, _body(name="Renamed"), HTTP_IDEMPOTENCY_KEY="order-42").status_code == 422
    assert Batch.objects.count() == 1
    assert MessageLog.objects.count() == 2
    # The same request, even naming the template by id, is still a replay.
    same = post(as_super, _body(template=template.pk), HTTP_IDEMPOTENCY_KEY="order-42")
    assert same.status_code == 200
    assert same.json()["id"] == first.json()["id"]


def test_without_an_idempotency_key_a_repeat_creates_another_batch(post, as_super, template):
    post(as_super, _body())
    post(as_super, _body())
    assert Batch.objects.count() == 2


# Validation: a 400 that says what was wrong, and nothing written


@pytest.mark.parametrize(
    ("overrides", "field", "fragment"),
    [
        ({"template": "Nope"}, "template", "Unknown template 'Nope'"),
        ({"template": 999999}, "template", "Unknown template 999999"),
        ({"template": ["x"]}, "template", "template's id"),
        ({"channel": "carrier-pigeon"}, "channel", "carrier-pigeon"),
        ({"recipients": []}, "recipients", "No recipients"),
        ({"recipients": "a@example.com"}, "recipients", "list"),
        ({"recipients": ["a@example.com"]}, "recipients[0]", "must be an object"),
        ({"recipients": [{"recipient": 447700900001}]}, "recipients[0]", "must be text"),
        ({"priority": "high"}, "priority", "whole number"),
        ({"priority": "5"}, "priority", "whole number"),
        ({"name": 42}, "name", "text"),
        ({"priority": 10**6}, "priority", "less than or equal"),
        ({"name": "x" * 201}, "name", "200"),
        ({"name": "bad\x00name"}, "name", "null"),
    ],
)
def test_it_refuses_bad_fields(post, as_super, template, overrides, field, fragment):
    body = assert_error(post(as_super, _body(**overrides)), 400, fragment)
    assert field in body["errors"]
    _nothing_written()


def test_it_refuses_a_missing_template_and_recipients(post, as_super):
    body = assert_error(post(as_super, {}), 400, "template", "recipients")
    assert set(body["errors"]) == {"template", "recipients"}
    _nothing_written()


def test_it_lists_every_bad_recipient_line_and_writes_nothing(post, as_super, template):
    body = _body(
        recipients=[
            {"recipient": "ok@example.com", "name": "Ok"},
            {"recipient": "", "name": "Empty"},
            {"name": "No recipient"},
            {"recipient": "n@example.com", "name": {"nested": True}},
            {"recipient": "nameless@example.com"},
        ]
    )

    error = assert_error(post(as_super, body), 400, "Batch refused")

    assert error["errors"]["recipients"] == [
        "line 2: recipient is empty",
        "line 3: recipient is empty",
        "line 4: value of 'name' must be text or a number",
        "line 5: no value for placeholder 'name'",
    ]
    _nothing_written()


def test_it_refuses_too_many_recipients(post, as_super, template, settings):
    settings.MAX_BATCH_RECIPIENTS = 2
    body = _body(recipients=[{"recipient": f"u{i}@example.com", "name": "N"} for i in range(3)])

    error = assert_error(post(as_super, body), 413, "Too many recipients: 3 > 2")

    assert error["errors"]["batch"] == ["Too many recipients: 3 > 2"]
    _nothing_written()


def test_it_refuses_the_webhook_channel_without_a_webhook_url(post, as_super, template, settings):
    settings.WEBHOOK_URL = ""
    assert_error(post(as_super, _body(channel="webhook")), 400, "WEBHOOK_URL")
    _nothing_written()


def test_it_refuses_malformed_json(as_super, template):
    response = as_super.post(URL, "{not json", content_type="application/json")
    assert_error(response, 400, "JSON parse error")
    _nothing_written()


def test_it_refuses_a_form_encoded_body(as_super, template):
    response = as_super.post(URL, {"template": "Greeting"})  # multipart
    assert_error(response, 415, "Unsupported media type")
    _nothing_written()


def test_it_refuses_an_overlong_idempotency_key(post, as_super, template):
    response = post(as_super, _body(), HTTP_IDEMPOTENCY_KEY="k" * 201)
    body = assert_error(response, 400, "Idempotency-Key")
    assert "Idempotency-Key" in body["errors"]
    _nothing_written()


def test_viewers_and_anonymous_callers_cannot_create_batches(post, as_viewer, anonymous, template):
    assert_error(post(as_viewer, _body()), 403, "read-only")
    assert_error(post(anonymous, _body()), 401)
    _nothing_written()


# Reading


def test_it_lists_batches_newest_first_with_progress(as_viewer, make_batch):
    older = make_batch(3, name="Older")
    newer = make_batch(2, name="Newer")
    first = MessageLog.objects.filter(batch=older).order_by("id").first()
    MessageLog.objects.filter(pk=first.pk).update(status=Status.SENT)

    response = as_viewer.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert (body["next"], body["previous"]) == (None, None)
    assert [b["id"] for b in body["results"]] == [newer.pk, older.pk]
    assert body["results"][1]["progress"] == {
        "pending": 2,
        "sent": 1,
        "failed": 0,
        "permanently_failed": 0,
        "dead_lettered": 0,
    }


def test_it_reads_a_page_of_batches_in_a_fixed_number_of_queries(as_viewer, make_batch):
    for i in range(3):
        make_batch(2, name=f"B{i}")
    with CaptureQueriesContext(connection) as few:
        as_viewer.get(URL)
    for i in range(5):
        make_batch(2, name=f"C{i}")
    with CaptureQueriesContext(connection) as many:
        response = as_viewer.get(URL)

    assert len(response.json()["results"]) == 8
    assert len(many) == len(few)


def test_it_pages_batches_with_a_cursor(as_viewer, make_batch):
    batches = [make_batch(1, name=f"B{i}") for i in range(3)]

    first = as_viewer.get(URL, {"limit": 2}).json()
    second = as_viewer.get(first["next"]).json()

    assert [b["id"] for b in first["results"]] == [batches[2].pk, batches[1].pk]
    assert [b["id"] for b in second["results"]] == [batches[0].pk]
    assert second["next"] is None
    assert second["previous"]


def test_it_refuses_a_malformed_batch_cursor(as_viewer):
    body = assert_error(as_viewer.get(URL, {"cursor": "garbage"}), 400, "cursor")
    assert "cursor" in body["errors"]


def test_it_shows_one_batch_with_progress(as_viewer, make_batch):
    batch = make_batch(2)

    response = as_viewer.get(f"{URL}{batch.pk}/")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["total"], body["progress"]["pending"]) == (batch.pk, 2, 2)


def test_a_batch_whose_template_was_deleted_shows_no_template(as_viewer, make_batch):
    batch = make_batch(1)
    Template.objects.all().delete()

    assert as_viewer.get(f"{URL}{batch.pk}/").json()["template"] is None


def test_it_answers_404_json_for_an_unknown_batch(as_viewer):
    assert_error(as_viewer.get(f"{URL}424242/"), 404, "Unknown batch 424242")
    assert_error(as_viewer.get(f"{URL}99999999999999999999999/"), 404)
    assert_error(as_viewer.get(f"{URL}abc/"), 404, "/api/batches/abc/")


def test_anonymous_callers_cannot_read_batches(anonymous, make_batch):
    batch = make_batch(1)
    assert_error(anonymous.get(URL), 401)
    assert_error(anonymous.get(f"{URL}{batch.pk}/"), 401)
