"""What only Azure Storage Queue does: the poison-queue convention, message
encoding and its size limit, and Azure errors turned into clear messages."""

import base64

import pytest

from retry_admin.models import MessageLog, Status
from retry_admin.queues import QueueError, get_backend, reset_backends
from retry_admin.services.health import health_check
from retry_admin.services.sender import sender_drain
from tests.emulators import AZURITE_KEY, free_port
from tests.queues.conftest import point_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def azure(request, settings, db):
    point_at(settings, request, "azure")
    backend = get_backend()
    backend.ensure()
    return backend


def raw_client(settings, name):
    from azure.storage.queue import QueueClient

    return QueueClient.from_connection_string(settings.AZURE_STORAGE_CONNECTION_STRING, name)


def test_use_development_storage_points_at_azurites_default_ports(settings):
    settings.QUEUE_BACKEND = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = "UseDevelopmentStorage=true"
    reset_backends()
    assert "127.0.0.1:10001" in get_backend().describe()


def test_dead_letters_go_to_the_functions_style_poison_queue_unchanged(azure, settings):
    azure.send(["poison body"])
    [message] = azure.receive(1, visibility_timeout=30)
    azure.dead_letter([message.handle], reason="testing")
    [raw] = raw_client(settings, f"{settings.QUEUE_NAME}-poison").peek_messages()
    assert base64.b64decode(raw.content).decode() == "poison body"


def test_a_plain_text_envelope_from_another_tool_is_delivered(azure, settings, make_batch):
    make_batch(1)
    [message] = azure.receive(1, visibility_timeout=30)
    azure.ack([message.handle])
    # Another producer writes our envelope as XML text, without base64.
    raw_client(settings, settings.QUEUE_NAME).send_message(message.body)
    assert sender_drain(until_empty=True).sent == 1
    assert MessageLog.objects.get().status == Status.SENT


def test_the_size_limit_counts_the_encoding(azure, settings):
    body = "x" * 50_000  # under 64 KiB as text, over it as base64
    [result] = azure.send([body])
    assert not result.ok and "after base64 encoding" in result.error
    settings.AZURE_QUEUE_ENCODING = "text"
    reset_backends()
    text = get_backend()
    assert text.send([body])[0].ok
    [escaped] = text.send(["&" * 20_000])  # 100,000 bytes once XML-escaped
    assert not escaped.ok and "after text encoding" in escaped.error
    [control] = text.send(["bell \x07"])
    assert not control.ok and "U+0007" in control.error


def test_text_encoding_round_trips(request, settings, db):
    point_at(settings, request, "azure")
    settings.AZURE_QUEUE_ENCODING = "text"
    reset_backends()
    backend = get_backend()
    backend.ensure()
    backend.send(['{"a": "<b> & c"}'])
    assert [m.body for m in backend.receive(1, visibility_timeout=30)] == ['{"a": "<b> & c"}']


# Errors


def test_an_unreachable_endpoint_is_a_clear_queue_error(settings, azurite, db):
    settings.QUEUE_BACKEND = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = azurite.connection_string(queue_port=free_port())
    reset_backends()
    with pytest.raises(QueueError, match="endpoint unreachable"):
        get_backend().depth()
    queue = health_check()["checks"]["queue"]
    assert not queue["ok"] and "unreachable" in queue["error"]


def test_a_missing_queue_says_how_to_create_it(request, settings, db):
    point_at(settings, request, "azure")  # never ensured
    with pytest.raises(QueueError, match=r"does not exist.*setup_retry_admin"):
        get_backend().send(["x"])


def test_a_wrong_account_key_is_named(request, settings, db):
    point_at(settings, request, "azure")
    wrong = base64.b64encode(b"not the key" * 6).decode()
    settings.AZURE_STORAGE_CONNECTION_STRING = settings.AZURE_STORAGE_CONNECTION_STRING.replace(
        AZURITE_KEY, wrong
    )
    reset_backends()
    with pytest.raises(QueueError, match="credentials"):
        get_backend().ensure()


def test_a_malformed_connection_string_is_named(settings):
    settings.QUEUE_BACKEND = "azure"
    settings.AZURE_STORAGE_CONNECTION_STRING = "this is not one"
    reset_backends()
    with pytest.raises(QueueError, match="not a valid connection string"):
        get_backend().depth()
