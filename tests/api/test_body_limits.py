"""Request bodies the API cannot take are refused with a JSON error that says
why: 413 with the limit for a body too large, 400 for JSON nested too deep or
malformed. Creating a batch takes a body big enough for MAX_BATCH_RECIPIENTS."""

import gzip
import json
import zlib

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


@pytest.mark.parametrize("encoding", ["br", "deflate", "gzip, br", "x" * 100])
def test_it_refuses_an_encoding_other_than_gzip_with_415(as_super, encoding):
    response = _send(as_super, "/api/messages/retry", b"{}", HTTP_CONTENT_ENCODING=encoding)

    assert_error(response, 415, "content-encoding")


def _gzip_batch(count: int) -> tuple[bytes, int]:
    recipients = [{"recipient": f"+4477{i:08d}", "name": f"Person {i}"} for i in range(count)]
    body = json.dumps({"template": "Greeting", "name": "Zipped", "recipients": recipients})
    return gzip.compress(body.encode(), compresslevel=1), len(body)


def test_it_reads_a_gzip_body(as_super, template, django_capture_on_commit_callbacks):
    body, _ = _gzip_batch(500)

    with django_capture_on_commit_callbacks(execute=False):
        response = _send(as_super, "/api/batches/", body, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 201, response.content[:500]
    assert MessageLog.objects.filter(batch_id=response.json()["id"]).count() == 500


@pytest.mark.parametrize(
    "body, problem",
    [
        (b"\x1f\x8b", "cut short"),
        (b"not gzip at all", "not valid gzip"),
        (gzip.compress(b'{"ids": []}')[:-6], "cut short"),  # the trailer is missing
        (gzip.compress(b'{"ids": []}') + b"junk", "after the end"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 6 + b"\xff" * 40, "not valid gzip"),
        (gzip.compress(b'{"ids": [}'), "JSON parse error"),
        (gzip.compress(b"\xff\xfe"), "JSON parse error"),
    ],
)
def test_it_refuses_a_bad_gzip_body_with_400(as_super, body, problem):
    response = _send(as_super, "/api/messages/retry", body, HTTP_CONTENT_ENCODING="gzip")

    payload = assert_error(response, 400, problem)
    assert payload["success"] is False


def test_a_gzip_body_that_inflates_past_the_limit_answers_413(as_super, template):
    limit = batch_body_limit()
    inflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    # A "zip bomb": about 50 KB that would inflate to twice the limit.
    bomb = inflater.compress(b'{"recipients": ["' + b"x" * (2 * limit)) + inflater.flush()
    assert len(bomb) < limit // 100

    response = _send(as_super, "/api/batches/", bomb, HTTP_CONTENT_ENCODING="gzip")

    payload = assert_error(response, 413, "inflated")
    assert f"{limit:,}" in payload["message"]
    assert Batch.objects.count() == 0


def test_a_gzip_body_over_the_limit_as_sent_answers_413(as_super):
    limit = default_body_limit()
    body = gzip.compress(json.dumps({"ids": [str(i) for i in range(10)]}).encode())
    body += b"\x00" * (limit + 1)  # padding past the limit before the stream is inflated

    response = _send(as_super, "/api/messages/retry", body, HTTP_CONTENT_ENCODING="gzip")

    assert_error(response, 413, "too large")


def test_the_maximum_batch_gzipped_is_created_and_one_more_answers_413(
    as_super, template, settings, django_capture_on_commit_callbacks
):
    settings.MAX_BATCH_RECIPIENTS = 20_000  # the check is the same at 200,000; quicker
    body, plain = _gzip_batch(settings.MAX_BATCH_RECIPIENTS)
    assert len(body) < plain / 4

    with django_capture_on_commit_callbacks(execute=False):
        created = _send(as_super, "/api/batches/", body, HTTP_CONTENT_ENCODING="gzip")
        refused = _send(
            as_super,
            "/api/batches/",
            _gzip_batch(settings.MAX_BATCH_RECIPIENTS + 1)[0],
            HTTP_CONTENT_ENCODING="gzip",
        )

    assert created.status_code == 201, created.content[:500]
    payload = assert_error(refused, 413, "Too many recipients: 20001 > 20000")
    assert payload["errors"]["batch"] == ["Too many recipients: 20001 > 20000"]
    assert Batch.objects.count() == 1


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
