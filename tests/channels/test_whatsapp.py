"""The WhatsApp channel against a local HTTP server that answers as the Cloud
API documents it (success body with a ``wamid``, Graph API error bodies)."""

import json
import logging
import socket
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client

from config.env import env_match
from retry_admin.channels import OutgoingMessage, PermanentError, TransientError, reset_channels
from retry_admin.channels.registry import CHANNELS
from retry_admin.channels.whatsapp import (
    NOT_A_PHONE_NUMBER,
    PERMANENT_CODES,
    TRANSIENT_CODES,
    WhatsAppChannel,
    classify,
)
from retry_admin.models import (
    Batch,
    DeliveryAttempt,
    MessageLog,
    Status,
    Template,
    new_message_id,
)
from retry_admin.services.batches import BatchValidationError, RecipientRow, batch_create
from retry_admin.services.sender import sender_drain
from tests.channels.local_http import serving
from tests.emulators import free_port
from tests.processes import start_django

PHONE_ID = "106540352242922"
TOKEN = "EAAJB-test-token"


def success_body(to: str) -> dict:
    """The documented answer to a send-message request."""
    return {
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
        "messages": [{"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}],
    }


def error_body(code: int, message: str, details: str = "") -> dict:
    """The documented Graph API error shape."""
    return {
        "error": {
            "message": f"(#{code}) {message}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
    }


@dataclass
class Graph:
    """What the local Graph API answers, and every request it got."""

    base_url: str
    answers: list[tuple[int, object]] = field(default_factory=list)  # (status, body) per call
    delay: float = 0.0
    requests: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        graph: Graph = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        graph.requests.append(
            {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
        )
        if graph.delay:
            time.sleep(graph.delay)
        status, answer = graph.answers.pop(0) if graph.answers else (200, None)
        if answer is None:
            answer = success_body(json.loads(body)["to"])
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def graph():
    graph = Graph(base_url="")
    with serving(_Handler, graph) as base_url:
        graph.base_url = base_url
        yield graph


def _channel(graph: Graph, **kwargs) -> WhatsAppChannel:
    defaults = dict(
        base_url=graph.base_url,
        version="v23.0",
        phone_number_id=PHONE_ID,
        access_token=TOKEN,
        language="en_US",
        parameter_format="named",
        timeout=5,
        no_answer_outcome="transient",
    )
    return WhatsAppChannel(**{**defaults, **kwargs})


def _message(**kwargs) -> OutgoingMessage:
    defaults = dict(
        message_id=new_message_id(),
        recipient="+44 7700 900123",
        body="Hello Ada, order 42 shipped",
        attempt=1,
        batch_id=7,
        context={"name": "Ada", "order": 42},
        template_name="order_shipped",
        template_body="Hello {{ name }}, order {{order}} shipped. {{ name }}!",
    )
    return OutgoingMessage(**{**defaults, **kwargs})


def test_it_posts_the_documented_template_message_request(graph, caplog):
    message = _message()
    with caplog.at_level(logging.INFO, logger="retry_admin.channels.whatsapp"):
        _channel(graph).send(message)
    [request] = graph.requests
    assert request["path"] == f"/v23.0/{PHONE_ID}/messages"
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["json"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+447700900123",
        "type": "template",
        "biz_opaque_callback_data": str(message.message_id),
        "template": {
            "name": "order_shipped",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "parameter_name": "name", "text": "Ada"},
                        {"type": "text", "parameter_name": "order", "text": "42"},
                    ],
                }
            ],
        },
    }
    # The id is logged with the wamid WhatsApp answered.
    assert f"message_id={message.message_id}" in caplog.text
    assert "wamid=wamid.HBgL" in caplog.text


def test_positional_parameters_and_a_per_recipient_language(graph):
    message = _message(context={"name": "Ada", "order": 42, "language": "de"})
    _channel(graph, parameter_format="positional").send(message)
    template = graph.requests[0]["json"]["template"]
    assert template["language"] == {"code": "de"}
    assert template["components"][0]["parameters"] == [
        {"type": "text", "text": "Ada"},
        {"type": "text", "text": "42"},
    ]


def test_a_template_without_placeholders_sends_no_components(graph):
    _channel(graph).send(_message(template_body="Our shop opens at 9.", context={}))
    assert "components" not in graph.requests[0]["json"]["template"]


@pytest.mark.parametrize(
    "status, code, message",
    [
        (400, 4, "Application request limit reached"),
        (400, 80007, "Rate limit issues"),
        (400, 130429, "Rate limit hit"),
        (400, 131048, "Spam rate limit hit"),
        (400, 131056, "(Business Account, Consumer Account) pair rate limit hit"),
        (400, 1, "An unknown error occurred"),
        (503, 2, "Service temporarily unavailable"),
        (500, 131000, "Something went wrong"),
        (503, 131016, "Service unavailable"),
    ],
)
def test_rate_limits_and_temporary_errors_are_transient(graph, status, code, message):
    graph.answers = [(status, error_body(code, message, "try again later"))]
    with pytest.raises(TransientError) as info:
        _channel(graph).send(_message())
    assert f"WhatsApp error {code} (HTTP {status})" in str(info.value)
    assert "try again later" in str(info.value)


@pytest.mark.parametrize(
    "status, code, message",
    [
        (400, 131026, "Message Undeliverable."),
        (400, 131030, "Recipient phone number not in allowed list"),
        (400, 131047, "Re-engagement message"),
        (404, 132001, "Template name does not exist in the translation"),
        (400, 132000, "Number of parameters does not match the expected number of params"),
        (400, 132016, "Template is disabled"),
        (401, 190, "Error validating access token: Session has expired"),
        (400, 100, "Invalid parameter"),
    ],
)
def test_recipient_template_and_auth_errors_are_permanent(graph, status, code, message):
    graph.answers = [(status, error_body(code, message))]
    with pytest.raises(PermanentError) as info:
        _channel(graph).send(_message())
    assert f"WhatsApp error {code} (HTTP {status})" in str(info.value)
    assert message in str(info.value)


def test_unknown_codes_and_bodies_fall_back_on_the_http_status(graph):
    graph.answers = [
        (502, "<html>Bad gateway</html>"),
        (429, error_body(999999, "Something new")),
        (400, error_body(999999, "Something new")),
        (403, "not json"),
    ]
    channel = _channel(graph)
    with pytest.raises(TransientError, match=r"HTTP 502.*Bad gateway"):
        channel.send(_message())
    with pytest.raises(TransientError, match="HTTP 429"):
        channel.send(_message())
    with pytest.raises(PermanentError, match="HTTP 400"):
        channel.send(_message())
    with pytest.raises(PermanentError, match=r"error - \(HTTP 403\): not json"):
        channel.send(_message())


def test_the_code_tables_do_not_overlap_and_cover_the_documented_ranges():
    assert not set(TRANSIENT_CODES) & set(PERMANENT_CODES)
    assert all(classify(code, 400) for code in TRANSIENT_CODES)
    assert not any(classify(code, 500) for code in PERMANENT_CODES)  # the code beats the status
    assert not classify(132010, 400)  # template errors, 132000-132016
    assert not classify(250, 403)  # permission errors, 200-299


def test_a_refused_connection_is_transient_and_nothing_was_sent():
    channel = WhatsAppChannel(
        base_url=f"http://127.0.0.1:{free_port()}", phone_number_id=PHONE_ID, access_token=TOKEN
    )
    with pytest.raises(TransientError, match=r"unreachable.*nothing was sent"):
        channel.send(_message())


def test_a_connect_timeout_is_transient_and_nothing_was_sent():
    # A listening socket whose backlog is full and never accepted: the
    # kernel drops further SYNs, so the connection itself times out.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    fillers = []
    try:
        for _ in range(8):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(server.getsockname())
            fillers.append(filler)
        port = server.getsockname()[1]
        channel = WhatsAppChannel(
            base_url=f"http://127.0.0.1:{port}",
            phone_number_id=PHONE_ID,
            access_token=TOKEN,
            timeout=0.3,
            no_answer_outcome="permanent",  # even so: nothing was sent, so retry
        )
        started = time.monotonic()
        with pytest.raises(TransientError, match=r"unreachable \(ConnectTimeout\).*nothing was"):
            channel.send(_message())
        assert 0.25 < time.monotonic() - started < 2
    finally:
        for filler in fillers:
            filler.close()
        server.close()


def test_no_answer_after_sending_follows_the_setting(graph):
    graph.delay = 1.0
    started = time.monotonic()
    with pytest.raises(TransientError, match="may have been delivered"):
        _channel(graph, timeout=0.2).send(_message())
    assert time.monotonic() - started < 1.0
    with pytest.raises(PermanentError, match="may have been delivered"):
        _channel(graph, timeout=0.2, no_answer_outcome="permanent").send(_message())
    assert len(graph.requests) == 2  # both reached the server


def test_a_recipient_that_is_not_a_phone_number_is_permanent_without_a_request(graph):
    with pytest.raises(PermanentError, match="not a phone number"):
        _channel(graph).send(_message(recipient="ada@example.com"))
    assert graph.requests == []


def test_a_missing_value_or_template_name_is_permanent_without_a_request(graph):
    with pytest.raises(PermanentError, match="'order' has no value"):
        _channel(graph).send(_message(context={"name": "Ada"}))
    with pytest.raises(PermanentError, match="template name"):
        _channel(graph).send(_message(template_name=""))
    assert graph.requests == []


def test_it_is_permanent_without_credentials(graph):
    with pytest.raises(PermanentError, match="WHATSAPP_PHONE_NUMBER_ID"):
        _channel(graph, access_token="").send(_message())
    assert graph.requests == []


# Settings and registration


def test_it_is_registered_and_reads_its_settings(settings, graph):
    settings.WHATSAPP_API_BASE_URL = graph.base_url + "/"
    settings.WHATSAPP_API_VERSION = "v21.0"
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_ID
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_TIMEOUT_SECONDS = 2.5
    assert "whatsapp" in CHANNELS
    channel = WhatsAppChannel()
    assert channel.url == f"{graph.base_url}/v21.0/{PHONE_ID}/messages"
    assert channel.timeout == 2.5
    channel.send(_message())
    assert graph.requests[0]["path"] == f"/v21.0/{PHONE_ID}/messages"


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("whatsapp-settings")


@pytest.mark.parametrize(
    "name, value, words",
    [
        ("WHATSAPP_PHONE_NUMBER_ID", "+44 7700", "numeric id"),
        ("WHATSAPP_API_VERSION", "23", "v23.0"),
        ("WHATSAPP_API_BASE_URL", "graph.facebook.com", "http:// or https://"),
        ("WHATSAPP_NO_ANSWER_OUTCOME", "maybe", "permanent, transient"),
    ],
)
def test_a_malformed_setting_stops_start_up_naming_it(var_dir, name, value, words):
    result = start_django(var_dir, **{name: value})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"django.core.exceptions.{ImproperlyConfigured.__name__}: {name}")
    assert words in last


def test_a_malformed_token_is_refused_without_echoing_it(var_dir):
    result = start_django(var_dir, WHATSAPP_ACCESS_TOKEN="EAAsecret with-space")
    assert result.returncode != 0
    assert "WHATSAPP_ACCESS_TOKEN" in result.stderr.strip().splitlines()[-1]
    assert "EAAsecret" not in result.stderr


@pytest.mark.parametrize(
    "value, ok", [("en_US", True), ("de", True), ("pt_BR", True), ("English", False), ("", True)]
)
def test_env_match_reads_a_language_code(monkeypatch, value, ok):
    monkeypatch.setenv("WHATSAPP_LANGUAGE", value)
    read = lambda: env_match(  # noqa: E731
        "WHATSAPP_LANGUAGE", "en_US", r"[a-z]{2,3}(_[A-Za-z]{2,4})?", expected="a language code"
    )
    if ok:
        assert read() == (value or "en_US")
    else:
        with pytest.raises(ImproperlyConfigured, match="WHATSAPP_LANGUAGE must be a language"):
            read()


@pytest.mark.django_db
def test_a_batch_needs_the_credentials(settings, template):
    settings.WHATSAPP_PHONE_NUMBER_ID = ""
    with pytest.raises(BatchValidationError, match="WHATSAPP_PHONE_NUMBER_ID"):
        batch_create(
            name="No creds",
            template=template,
            recipients=[RecipientRow(line=1, recipient="+447700900123", context={"name": "A"})],
            channel="whatsapp",
        )


@pytest.mark.django_db
def test_a_batch_refuses_lines_that_are_not_phone_numbers(settings, template, super_admin):
    settings.WHATSAPP_PHONE_NUMBER_ID, settings.WHATSAPP_ACCESS_TOKEN = PHONE_ID, TOKEN
    rows = [
        RecipientRow(line=1, recipient="+44 (7700) 900-123", context={"name": "A"}),
        RecipientRow(line=2, recipient="ada@example.com", context={"name": "B"}),
        RecipientRow(line=3, recipient="12", context={"name": "C"}),
    ]
    with pytest.raises(BatchValidationError) as info:
        batch_create(name="Phones", template=template, recipients=rows, channel="whatsapp")
    assert {e.line: e.message for e in info.value.errors} == {
        2: NOT_A_PHONE_NUMBER,
        3: NOT_A_PHONE_NUMBER,
    }
    assert not Batch.objects.exists()
    # The same through the API: a 400 naming the lines, nothing written.
    client = Client()
    client.force_login(super_admin)
    response = client.post(
        "/api/batches/",
        {
            "template": template.name,
            "name": "Phones",
            "channel": "whatsapp",
            "recipients": [{"recipient": r.recipient, **r.context} for r in rows],
        },
        content_type="application/json",
    )
    assert response.status_code == 400, response.content
    assert "not a phone number for WhatsApp" in response.content.decode()
    assert not Batch.objects.exists()
    # Other channels take any address.
    batch_create(name="Any", template=template, recipients=rows, channel="log")


@pytest.mark.django_db
def test_the_form_offers_whatsapp_only_with_its_credentials(settings, template, super_admin):
    client = Client()
    client.force_login(super_admin)
    settings.WHATSAPP_PHONE_NUMBER_ID, settings.WHATSAPP_ACCESS_TOKEN = PHONE_ID, ""
    without = client.get("/batches/new/").content.decode()
    forged = client.post(
        "/batches/new/",
        {
            "name": "One",
            "template": template.pk,
            "channel": "whatsapp",
            "recipients": "recipient,name\n+447700900123,A",
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    with_credentials = client.get("/batches/new/").content.decode()
    assert 'value="whatsapp"' not in without and 'value="log"' in without
    assert 'value="whatsapp"' in with_credentials
    assert forged.status_code == 400
    assert "WHATSAPP_ACCESS_TOKEN" in forged.content.decode()
    assert not Batch.objects.exists()


# End to end: a batch on the WhatsApp channel, delivered by the sender


@pytest.fixture
def whatsapp_settings(settings, graph):
    settings.WHATSAPP_API_BASE_URL = graph.base_url
    settings.WHATSAPP_PHONE_NUMBER_ID = PHONE_ID
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_TIMEOUT_SECONDS = 5
    reset_channels()
    yield graph
    reset_channels()


@pytest.mark.django_db
def test_the_sender_delivers_a_batch_and_records_each_outcome(whatsapp_settings, make_batch):
    graph = whatsapp_settings
    template = Template.objects.create(name="order_update", body="Hi {{ name }}")
    rows = [
        RecipientRow(line=i + 1, recipient=f"+4477009001{i:02d}", context={"name": f"N{i}"})
        for i in range(4)
    ]
    graph.answers = [
        (200, None),
        (400, error_body(131026, "Message Undeliverable.")),
        (400, error_body(130429, "Rate limit hit")),
        (200, None),
    ]
    batch = make_batch(channel="whatsapp", template=template, recipients=rows)
    report = sender_drain(until_empty=True)
    assert (report.sent, report.failed, report.permanently_failed) == (2, 1, 1)
    logs = {str(log.pk): log for log in MessageLog.objects.filter(batch=batch)}
    by_id = {r["json"]["biz_opaque_callback_data"]: r["json"] for r in graph.requests}
    assert set(by_id) == set(logs)  # each message sent once, its id in the request
    for pk, log in logs.items():
        assert by_id[pk]["to"] == log.recipient
        assert by_id[pk]["template"]["name"] == "order_update"
    statuses = sorted(log.status for log in logs.values())
    assert statuses == sorted([Status.SENT, Status.SENT, Status.FAILED, Status.PERMANENTLY_FAILED])
    failed = next(log for log in logs.values() if log.status == Status.FAILED)
    assert "130429" in failed.last_error
    assert DeliveryAttempt.objects.filter(message__batch=batch).count() == 4
