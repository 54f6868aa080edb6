import json
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest

from retry_admin.channels import OutgoingMessage, PermanentError, TransientError, reset_channels
from retry_admin.channels.webhook import WebhookChannel
from retry_admin.models import MessageLog, Status, new_message_id
from retry_admin.services.sender import sender_drain
from tests.channels.local_http import serving
from tests.emulators import free_port


@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Hook:
    """What the local webhook answers, and everything it was sent."""

    url: str
    status: int = 200
    delay: float = 0.0
    headers: dict = field(default_factory=dict)
    requests: list[Received] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        hook: Hook = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        hook.requests.append(Received(self.path, dict(self.headers), self.rfile.read(length)))
        if hook.delay:
            time.sleep(hook.delay)
        body = f"status {hook.status}".encode()
        self.send_response(hook.status)
        for name, value in hook.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, format, *args):
        pass


@pytest.fixture
def hook():
    hook = Hook(url="")
    with serving(_Handler, hook) as base_url:
        hook.url = f"{base_url}/hook"
        yield hook


@pytest.fixture
def closed_port_url():
    return f"http://127.0.0.1:{free_port()}/hook"


def _message(**kwargs) -> OutgoingMessage:
    defaults = dict(
        message_id=new_message_id(),
        recipient="ada@example.com",
        body="Hello Ada!",
        attempt=1,
        batch_id=7,
    )
    return OutgoingMessage(**{**defaults, **kwargs})


def test_it_returns_on_2xx(hook):
    for status in (200, 201, 202, 204):
        hook.status = status
        WebhookChannel(url=hook.url, timeout=5).send(_message())
    assert len(hook.requests) == 4


def test_it_posts_the_json_payload_with_the_idempotency_key(hook):
    message = _message(attempt=2)
    WebhookChannel(url=hook.url, timeout=5).send(message)
    [request] = hook.requests
    assert request.path == "/hook"
    assert request.headers["Idempotency-Key"] == str(message.message_id)
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "message_id": str(message.message_id),
        "batch_id": 7,
        "recipient": "ada@example.com",
        "body": "Hello Ada!",
        "attempt": 2,
    }


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_it_treats_retryable_statuses_as_transient(hook, status):
    hook.status = status
    with pytest.raises(TransientError) as info:
        WebhookChannel(url=hook.url, timeout=5).send(_message())
    assert f"HTTP {status}" in str(info.value)
    assert f"status {status}" in str(info.value)  # the response text is kept


@pytest.mark.parametrize("status", [400, 404, 410, 422])
def test_it_treats_other_4xx_as_permanent(hook, status):
    hook.status = status
    with pytest.raises(PermanentError) as info:
        WebhookChannel(url=hook.url, timeout=5).send(_message())
    assert f"HTTP {status}" in str(info.value)


def test_it_does_not_follow_a_redirect(hook):
    hook.status = 302
    hook.headers = {"Location": hook.url.replace("/hook", "/elsewhere")}
    with pytest.raises(PermanentError) as info:
        WebhookChannel(url=hook.url, timeout=5).send(_message())
    assert "HTTP 302" in str(info.value)
    assert [r.path for r in hook.requests] == ["/hook"]


def test_it_treats_a_timeout_as_transient(hook):
    hook.delay = 1.0
    started = time.monotonic()
    with pytest.raises(TransientError) as info:
        WebhookChannel(url=hook.url, timeout=0.2).send(_message())
    assert time.monotonic() - started < 1.0
    assert "timed out after 0.2 s" in str(info.value)


def test_it_treats_a_refused_connection_as_transient(closed_port_url):
    with pytest.raises(TransientError) as info:
        WebhookChannel(url=closed_port_url, timeout=5).send(_message())
    assert "unreachable" in str(info.value)


def test_it_is_permanent_without_a_url(settings):
    settings.WEBHOOK_URL = ""
    with pytest.raises(PermanentError) as info:
        WebhookChannel().send(_message())
    assert "WEBHOOK_URL" in str(info.value)


def test_it_reads_url_and_timeout_from_settings(settings, hook):
    settings.WEBHOOK_URL = hook.url
    settings.WEBHOOK_TIMEOUT_SECONDS = 3.5
    channel = WebhookChannel()
    assert (channel.url, channel.timeout) == (hook.url, 3.5)
    channel.send(_message())
    assert len(hook.requests) == 1


# End to end: a batch on the webhook channel, delivered by the sender


@pytest.fixture
def webhook_settings(settings, hook):
    settings.WEBHOOK_URL = hook.url
    settings.WEBHOOK_TIMEOUT_SECONDS = 5
    reset_channels()
    return hook


@pytest.mark.django_db
def test_it_delivers_a_batch_through_the_sender(webhook_settings, make_batch):
    hook = webhook_settings
    batch = make_batch(6, channel="webhook")
    report = sender_drain(until_empty=True)
    assert report.sent == 6
    logs = MessageLog.objects.filter(batch=batch)
    assert {log.status for log in logs} == {Status.SENT}
    keys = [r.headers["Idempotency-Key"] for r in hook.requests]
    assert sorted(keys) == sorted(str(log.pk) for log in logs)  # each exactly once
    payloads = {json.loads(r.body)["message_id"]: json.loads(r.body) for r in hook.requests}
    for log in logs:
        assert payloads[str(log.pk)]["recipient"] == log.recipient
        assert payloads[str(log.pk)]["body"] == f"Hello {log.context['name']}!"
        assert payloads[str(log.pk)]["batch_id"] == batch.pk


@pytest.mark.django_db
def test_a_503_leaves_the_messages_failed(webhook_settings, make_batch):
    webhook_settings.status = 503
    make_batch(3, channel="webhook")
    report = sender_drain(until_empty=True)
    assert report.failed == 3
    assert len(webhook_settings.requests) == 3
    for log in MessageLog.objects.all():
        assert log.status == Status.FAILED
        assert "HTTP 503" in log.last_error


@pytest.mark.django_db
def test_a_400_leaves_the_messages_permanently_failed(webhook_settings, make_batch):
    webhook_settings.status = 400
    make_batch(3, channel="webhook")
    report = sender_drain(until_empty=True)
    assert report.permanently_failed == 3
    for log in MessageLog.objects.all():
        assert log.status == Status.PERMANENTLY_FAILED
        assert "HTTP 400" in log.last_error
