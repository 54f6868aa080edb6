"""Bad query parameters on console pages: explained above the table, naming
the parameter, never a 500."""

import pytest
from django_q.models import OrmQ

from retry_admin.models import AuditEvent


@pytest.mark.parametrize(
    ("url", "parameter"),
    [
        ("/messages/?created_from=2026-02-30", "created_from"),
        ("/messages/?created_from=2026-13-45", "created_from"),
        ("/messages/?created_to=2026-13-01", "created_to"),
        ("/messages/?created_from=0000-01-01", "created_from"),
        ("/messages/?created_from=2026-02-30T10:00:00", "created_from"),
        ("/failures/?status=failed&created_to=2026-13-45", "created_to"),
    ],
)
def test_it_explains_an_impossible_date(super_client, url, parameter):
    response = super_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "This filter cannot be used" in html
    assert f"<strong>{parameter}</strong>" in html
    assert "not a date" in html


@pytest.mark.parametrize("parameter", ["recipient", "error", "status", "batch", "created_from"])
def test_it_explains_a_nul_byte_in_a_filter(super_client, batch_with_failures, parameter):
    response = super_client.get("/messages/", {parameter: "ab\x00c"})

    assert response.status_code == 200
    html = response.content.decode()
    assert f"<strong>{parameter}</strong>" in html


@pytest.mark.parametrize("value", ["zz", "\x00", "-5"])
def test_it_explains_a_malformed_page_cursor_on_messages(super_client, value):
    for parameter in ("after", "before"):
        response = super_client.get("/messages/", {parameter: value})

        assert response.status_code == 200
        assert f"<strong>{parameter}</strong>" in response.content.decode()


@pytest.mark.parametrize("path", ["/batches/", "/health/"])
@pytest.mark.parametrize("value", ["²", "abc", "-1", "9" * 40, "1\x00"])
def test_it_explains_a_malformed_before_on_batches_and_health(super_client, path, value):
    AuditEvent.objects.create(action=AuditEvent.Action.RETRY_CYCLE)

    response = super_client.get(path, {"before": value})

    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>before</strong>" in html


def test_it_explains_an_unknown_failures_tab(super_client):
    response = super_client.get("/failures/", {"status": "sent"})

    assert response.status_code == 200
    assert "<strong>status</strong>" in response.content.decode()


@pytest.mark.parametrize("since", ["2026-02-30T00:00:00", "2026-13-45T00:00:00", "²", "yesterday"])
def test_it_refuses_a_malformed_bulk_progress_query(super_client, since):
    response = super_client.get(
        "/failures/bulk/progress/",
        {"since": since, "until": "2026-01-01T00:00:00", "actor": "super"},
    )

    assert response.status_code == 400
    assert "since" in response.content.decode()


@pytest.mark.parametrize(
    "target",
    [
        "overview",
        "messages",
        "not a path",
        "//evil.example/",
        "https://evil.example/x",
        "javascript:alert(1)",
        "/\\evil.example",
        "\x00",
        "http://testserver/health/",
    ],
)
def test_it_never_follows_a_next_that_is_not_a_local_path(super_client, live_worker, target):
    response = super_client.post("/retry-cycle/", {"next": target})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert OrmQ.objects.count() == 1


def test_it_follows_a_local_next_with_its_query(super_client):
    response = super_client.post("/retry-cycle/", {"next": "/messages/?status=failed"})

    assert response["Location"] == "/messages/?status=failed"


@pytest.mark.parametrize("value", ["²", "9" * 40, "-1", "\x00"])
def test_it_asks_for_a_template_when_the_preview_names_no_template(super_client, value):
    response = super_client.post("/batches/new/preview/", {"template": value, "recipients": "a"})

    assert response.status_code == 200
    assert "Choose a template" in response.content.decode()
