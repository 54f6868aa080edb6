"""A database outage: pages answer a 503 page saying the database is
unreachable, the API a JSON 503, /healthz its JSON 503; nothing answers 500."""

import pytest
from django.db import OperationalError
from django.test import RequestFactory
from rest_framework.authtoken.models import Token

from retry_admin.errors import server_error


@pytest.mark.parametrize("path", ["/", "/health/", "/messages/", "/failures/", "/batches/1/"])
def test_it_answers_a_503_page_for_a_page(super_client, database_unreachable, path):
    database_unreachable()

    response = super_client.get(path)

    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "database is unreachable" in html
    assert response["X-Request-ID"] in html
    assert response["Retry-After"]


def test_it_answers_a_json_503_for_the_api(super_admin, client, database_unreachable):
    token = Token.objects.create(user=super_admin).key
    database_unreachable()

    response = client.get(
        "/api/Diagnostics/QueueStatus", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 503
    body = response.json()
    assert body["success"] is False
    assert "database is unreachable" in body["message"]
    assert body["request_id"] == response["X-Request-ID"]


def test_it_answers_a_json_503_for_the_api_with_a_session(super_client, database_unreachable):
    database_unreachable()

    response = super_client.post("/api/campaigns/retry-failed-messages")

    assert response.status_code == 503
    assert "database is unreachable" in response.json()["message"]


def test_healthz_still_says_the_database_is_down(client, database_unreachable):
    database_unreachable()

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False


def test_it_logs_the_outage_with_the_request_id(super_client, database_unreachable, caplog):
    database_unreachable()

    response = super_client.get("/", headers={"X-Request-ID": "outage-check-1"})

    assert response["X-Request-ID"] == "outage-check-1"
    [record] = [r for r in caplog.records if r.name == "retry_admin.errors"]
    assert "outage-check-1" in record.getMessage()
    assert record.exc_info is not None


def test_a_database_error_outside_a_view_is_a_503_too(db):
    """Django calls handler500 inside its ``except``: a middleware that fails
    on the database (saving the session, after the view) still gets the 503."""
    request = RequestFactory().get("/")
    try:
        raise OperationalError("server closed the connection unexpectedly")
    except OperationalError:
        response = server_error(request)

    assert response.status_code == 503
    assert "database is unreachable" in response.content.decode()
