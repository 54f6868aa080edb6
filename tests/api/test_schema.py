"""GET /api/schema/ (OpenAPI 3) and the browsable docs at /api/docs/."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

pytestmark = pytest.mark.django_db

OPERATIONS = {
    ("/api/campaigns/retry-failed-messages", "post"),
    ("/api/campaigns/retry-status", "get"),
    ("/api/Diagnostics/QueueStatus", "get"),
    ("/api/Statistics/GetMessageStatusStats", "get"),
    ("/api/Batch/CreateBatchAndSend", "post"),
    ("/api/batches/", "get"),
    ("/api/batches/", "post"),
    ("/api/batches/{id}/", "get"),
    ("/api/messages/", "get"),
    ("/api/messages/retry", "post"),
    ("/api/messages/{id}/", "get"),
    ("/api/messages/{id}/retry", "post"),
    ("/api/dlq/", "get"),
    ("/api/dlq/", "delete"),
    ("/api/dlq/replay", "post"),
}


@pytest.fixture
def schema(as_viewer) -> dict:
    response = as_viewer.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_it_serves_an_openapi_3_schema_of_every_endpoint(schema):
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == OPERATIONS


def test_it_documents_bearer_auth_and_the_error_responses(schema):
    bearer = schema["components"]["securitySchemes"]["bearerAuth"]
    assert (bearer["type"], bearer["scheme"]) == ("http", "bearer")
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            assert {"bearerAuth": []} in operation["security"]
            for code in ("401", "403"):
                assert responses[code]["content"]["application/json"]["schema"] == error
            if "{id}" in path:
                assert "404" in responses, (method, path)
            if method in ("post", "delete") or operation.get("parameters"):
                assert "400" in responses or "{id}" in path, (method, path)


def test_it_documents_the_seed_shapes(schema):
    components = schema["components"]["schemas"]
    assert set(components["QueueStatus"]["required"]) >= {"success", "queueLength", "timestamp"}
    assert set(components["RetryTriggeredData"]["properties"]) == {
        "triggeredAt",
        "triggeredBy",
        "status",
    }
    status = components["MessageRetryStatus"]["properties"]
    assert {"isRunning", "lastRun", "nextRun", "lastResult", "overdue"} <= set(status)
    assert set(components["Error"]["required"]) == {"success", "message"}


def test_the_docs_page_uses_our_own_static_files_never_a_cdn(viewer):
    client = Client()
    client.force_login(viewer)
    response = client.get("/api/docs/")

    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
    bundle = "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert f"/static/{bundle}" in html
    assert finders.find(bundle)
    assert "cdn" not in html.lower()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)  # no inline script (CSP)
    assert "<style" not in html
    script = client.get("/api/docs/", {"script": ""})
    assert script.status_code == 200 and "SwaggerUIBundle" in script.content.decode()
    assert "/api/schema/" in script.content.decode()


# Who may read them


def test_schema_and_docs_need_a_staff_session_or_token(anonymous, django_user_model):
    schema = anonymous.get("/api/schema/")
    assert schema.status_code == 401 and schema.json()["success"] is False
    docs = Client().get("/api/docs/")
    assert docs.status_code == 302
    assert docs["Location"] == "/accounts/login/?next=/api/docs/"

    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    client = Client()
    client.force_login(outsider)
    assert client.get("/api/schema/").status_code == 403
    assert client.get("/api/docs/").status_code == 403


def test_api_docs_public_opens_them_to_anyone(anonymous, settings):
    settings.API_DOCS_PUBLIC = True
    assert anonymous.get("/api/schema/").status_code == 200
    assert Client().get("/api/docs/").status_code == 200
