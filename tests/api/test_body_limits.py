"""Request bodies the API cannot take are refused with a JSON error that says
why: 413 with the limit for a body too large, 400 for JSON nested too deep or
malformed. Creating a batch takes a body big enough for MAX_BATCH_RECIPIENTS."""

import json

import pytest
from django.conf import settings

from retry_admin.api.parsers import batch_body_limit, default_body_limit
from retry_admin.models import Batch, MessageLog
from tests.api.conftest import assert_error

# The endpoints that read a body, besides batch creation.
SMALL_ENDPOINTS = [
    ("POST", "/api/messages/retry"),
    ("POST", "/api/dlq/replay"),
    ("DELETE", "/api/dlq/"),
]


def _send(client, path: str, body: bytes, method: str = "POST", **extra):
    return client.generic(method, path, body, content_type="application/json", **extra)


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_it_refuses_a_body_over_the_limit_with_413_and_the_limit(as_super):
    limit = default_body_limit()
    body = b'{"ids": ["' + b"x" * limit + b'"]}'

    for method, path in SMALL_ENDPOINTS:
        response = _send(as_super, path, body, method)

        payload = assert_error(response, 413, "too large")
        assert f"{limit:,}" in payload["message"]


def test_it_refuses_a_batch_body_over_its_own_limit(as_super, template):
    limit = batch_body_limit()
    body = b'{"template": "Greeting", "recipients": ["' + b"x" * limit + b'"]}'

    response = _send(as_super, "/api/batches/", body)

    payload = assert_error(response, 413, "too large")
    assert f"{limit:,}" in payload["message"]
    assert Batch.objects.count() == 0


@pytest.mark.parametrize(("method", "path"), [*SMALL_ENDPOINTS, ("POST", "/api/batches/")])
@pytest.mark.parametrize("levels", [100, 1_000, 100_000])
def test_it_refuses_json_nested_too_deep_with_400(as_super, method, path, levels):
    response = _send(as_super, path, _deep(levels), method)

    assert_error(response, 400, "nested")


def test_it_refuses_deep_json_inside_a_recipient(as_super, template):
    body = b'{"template": "Greeting", "recipients": [{"recipient": "a", "name": '
    body += _deep(900) + b"}]}"

    response = _send(as_super, "/api/batches/", body)

    assert_error(response, 400, "nested")


@pytest.mark.parametrize("body", [b"{", b'{"ids": [}', b"\xff\xfe", b'"\\ud800"', b"NaN"])
def test_it_refuses_malformed_json_with_400(as_super, body):
    response = _send(as_super, "/api/messages/retry", body)

    assert response.status_code == 400, response.content
    assert response.json()["success"] is False


def test_it_refuses_a_compressed_body_with_415(as_super):
    response = _send(as_super, "/api/messages/retry", b"\x1f\x8b", HTTP_CONTENT_ENCODING="gzip")

    assert_error(response, 415, "content-encoding")


def test_it_creates_a_batch_of_the_maximum_size(
    as_super, template, django_capture_on_commit_callbacks
):
    count = settings.MAX_BATCH_RECIPIENTS
    recipients = [{"recipient": f"+4477{i:08d}", "name": f"Person {i}"} for i in range(count)]
    body = json.dumps({"template": "Greeting", "name": "Largest", "recipients": recipients})
    assert len(body) > 2.5 * 1024 * 1024  # past Django's default body limit

    with django_capture_on_commit_callbacks(execute=False):
        response = _send(as_super, "/api/batches/", body.encode())

    assert response.status_code == 201, response.content[:500]
    assert MessageLog.objects.filter(batch_id=response.json()["id"]).count() == count
