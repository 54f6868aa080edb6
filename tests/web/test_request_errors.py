"""Every request carries a request id (X-Request-ID); an error that escapes a
view is logged with its traceback and that id, which the 500 page and the
API's JSON 500 show."""

import pytest
from django.test import Client, RequestFactory

from retry_admin.errors import server_error


class Boom(RuntimeError):
    pass


def _explode(*args, **kwargs):
    raise Boom("forced by the test")


@pytest.fixture
def quiet_super_client(super_admin) -> Client:
    """Answers a 500 like production instead of raising into the test."""
    client = Client(raise_request_exception=False)
    client.force_login(super_admin)
    return client


def _logged(caplog, request_id: str):
    return [
        r for r in caplog.records if r.name == "retry_admin.errors" and request_id in r.getMessage()
    ]


def test_it_logs_the_traceback_and_shows_the_request_id_on_a_page(
    quiet_super_client, monkeypatch, caplog
):
    monkeypatch.setattr("retry_admin.selectors.overview", _explode)

    response = quiet_super_client.get("/")

    assert response.status_code == 500
    request_id = response["X-Request-ID"]
    assert request_id in response.content.decode()
    [record] = _logged(caplog, request_id)
    assert record.levelname == "ERROR"
    assert record.exc_info[0] is Boom
    assert "GET /" in record.getMessage()


def test_it_logs_the_traceback_and_returns_the_request_id_in_the_api(
    quiet_super_client, monkeypatch, caplog
):
    monkeypatch.setattr("retry_admin.selectors.message_page", _explode)

    response = quiet_super_client.get("/api/messages/")

    assert response.status_code == 500
    body = response.json()
    assert body["success"] is False
    assert body["request_id"] == response["X-Request-ID"]
    [record] = _logged(caplog, body["request_id"])
    assert record.exc_info[0] is Boom


def test_it_keeps_a_sane_incoming_request_id(quiet_super_client, monkeypatch, caplog):
    monkeypatch.setattr("retry_admin.selectors.overview", _explode)

    response = quiet_super_client.get("/", headers={"X-Request-ID": "lb-7f3a.91:2"})

    assert response["X-Request-ID"] == "lb-7f3a.91:2"
    assert _logged(caplog, "lb-7f3a.91:2")


@pytest.mark.parametrize("incoming", ["", "has spaces", "x" * 201, "<script>", "é"])
def test_it_replaces_an_unusable_incoming_request_id(client, incoming):
    response = client.get("/healthz", headers={"X-Request-ID": incoming})

    assert response["X-Request-ID"] != incoming
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize("path", ["/healthz", "/accounts/login/", "/nowhere/", "/api/nowhere"])
def test_every_response_carries_a_request_id(client, db, path):
    first, second = client.get(path), client.get(path)

    assert first["X-Request-ID"] and second["X-Request-ID"]
    assert first["X-Request-ID"] != second["X-Request-ID"]


def test_the_500_page_renders_without_the_database(db, django_assert_num_queries):
    request = RequestFactory().get("/messages/")
    request.request_id = "abc123"

    with django_assert_num_queries(0):
        response = server_error(request)

    assert response.status_code == 500
    assert "abc123" in response.content.decode()
