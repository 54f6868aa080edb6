"""QUEUE_ENVELOPE=full on the embedded queue: what goes on the queue, what a
consumer outside this product can do with it, what our sender does with it,
and a body too large for the queue."""

import json
from pathlib import Path

import jsonschema
import pytest

from retry_admin.envelope import Envelope, decode
from retry_admin.models import HourlyCount, MessageLog, QueueMessage, Status, Template
from retry_admin.queues import get_backend
from retry_admin.services.batches import RecipientRow
from retry_admin.services.dispatch import dispatch
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain
from tests.conftest import make_rows

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "envelope.schema.json").read_text()
)


@pytest.fixture
def full(settings):
    settings.QUEUE_ENVELOPE = "full"


def bodies() -> dict[str, dict]:
    """The queue's bodies by message id, parsed."""
    parsed = [json.loads(body) for body in QueueMessage.objects.values_list("body", flat=True)]
    return {data["message_id"]: data for data in parsed}


def external_consumer(body: str) -> tuple[str, str, str] | None:
    """What a consumer outside this product does: read the JSON, check it
    against the published schema, deliver ``(id, to, text)``; nothing else
    (no database, no template) is at hand."""
    data = json.loads(body)
    jsonschema.validate(data, SCHEMA)
    payload = data.get("payload")
    if payload is None or payload["body"] is None:
        return None
    return data["message_id"], data["recipient"], payload["body"]


@pytest.mark.django_db
def test_pointer_is_the_default(make_batch):
    batch = make_batch(2)
    for data in bodies().values():
        assert "payload" not in data
        assert data["batch_id"] == batch.pk


@pytest.mark.django_db
def test_a_new_batch_carries_the_rendered_message(full, make_batch, template):
    batch = make_batch(3, name="Spring sale", priority=2)
    logs = {str(log.pk): log for log in MessageLog.objects.filter(batch=batch)}
    queued = bodies()
    assert set(queued) == set(logs)
    for pk, data in queued.items():
        log = logs[pk]
        assert data["payload"] == {
            "body": f"Hello {log.context['name']}!",
            "problem": "",
            "channel": "log",
            "context": log.context,
            "batch": {"id": batch.pk, "name": "Spring sale", "priority": 2},
            "template": {"id": template.pk, "name": "Greeting"},
        }
        assert data["recipient"] == log.recipient
        assert data["attempt"] == 1


@pytest.mark.django_db
def test_an_external_consumer_delivers_from_the_queue_alone(full, make_batch):
    batch = make_batch(4)
    expected = {
        (str(log.pk), log.recipient, f"Hello {log.context['name']}!")
        for log in MessageLog.objects.filter(batch=batch)
    }
    backend = get_backend()
    received = backend.receive(10, visibility_timeout=30)
    delivered = {external_consumer(item.body) for item in received}
    assert delivered == expected
    backend.ack([item.handle for item in received])


@pytest.mark.django_db
def test_a_retry_cycle_regenerates_the_full_payload(full, batch_with_failures):
    """The design regenerates the payload from the batch and template at each
    retry: a template edited since the first send is what the retry carries."""
    template = batch_with_failures.template
    template.body = "Second try, {{ name }}"
    template.save()
    run = retry_cycle_run(trigger="command")
    assert run.requeued == 4
    for data in bodies().values():
        assert data["payload"]["body"].startswith("Second try, N")


@pytest.mark.django_db
def test_our_sender_consumes_the_full_form_and_deduplicates_by_id(full, make_batch):
    batch = make_batch(3)
    copy = QueueMessage.objects.first().body
    report = sender_drain(until_empty=True, poll_seconds=0)
    assert report.sent == 3
    assert set(MessageLog.objects.filter(batch=batch).values_list("status", flat=True)) == {
        Status.SENT
    }
    # The same full envelope again (an at-least-once redelivery): acked, not sent.
    get_backend().send([copy])
    again = sender_drain(until_empty=True, poll_seconds=0)
    assert (again.sent, again.skipped) == (0, 1)
    assert QueueMessage.objects.count() == 0
    assert decode(copy).payload is not None


@pytest.mark.django_db
def test_the_row_not_the_payload_decides_what_is_sent(full, make_batch, caplog):
    """A full envelope whose payload disagrees with the database (tampered
    or stale) is delivered from the row: the row is the truth."""
    make_batch(1)
    message = QueueMessage.objects.get()
    data = json.loads(message.body)
    data["payload"]["body"] = "Something else entirely"
    data["recipient"] = "mallory@example.com"
    message.body = json.dumps(data)
    message.save()
    log = MessageLog.objects.get()
    assert sender_drain(until_empty=True, poll_seconds=0).sent == 1
    log.refresh_from_db()
    assert log.status == Status.SENT and log.recipient != "mallory@example.com"


@pytest.mark.django_db
def test_a_body_over_the_queue_limit_fails_its_message_clearly(full, make_batch):
    huge = RecipientRow(line=2, recipient="big@example.com", context={"name": "B" * 300_000})
    rows = [*make_rows(1), huge]
    batch = make_batch(recipients=rows)
    logs = {log.recipient: log for log in MessageLog.objects.filter(batch=batch)}
    big = logs["big@example.com"]
    assert big.status == Status.PERMANENTLY_FAILED
    assert big.last_error.startswith("Envelope refused before sending: body is ")
    assert "the db queue takes at most 262144" in big.last_error
    assert "QUEUE_ENVELOPE=pointer" in big.last_error
    assert set(bodies()) == {str(logs["user0@example.com"].pk)}  # the other one went
    assert HourlyCount.objects.get().permanently_failed == 1
    # Nothing lost: the admin can retry it once the envelope fits.
    from django.conf import settings

    settings.QUEUE_ENVELOPE = "pointer"
    MessageLog.objects.filter(pk=big.pk).update(status=Status.PENDING, enqueued_at=None)
    assert dispatch(message_ids=[big.pk]).enqueued == 1


@pytest.mark.django_db
def test_a_message_that_cannot_be_rendered_says_so_in_the_payload(full, make_batch):
    make_batch(1)
    # The template changed after the batch was checked: its new placeholder
    # has no column. The retry's payload says so instead of a body.
    template = Template.objects.get()
    template.body = "Code {{ code }}"
    template.save()
    MessageLog.objects.update(enqueued_at=None)
    QueueMessage.objects.all().delete()
    assert dispatch().enqueued == 1
    [data] = bodies().values()
    assert data["payload"]["body"] is None
    assert "'code' has no value" in data["payload"]["problem"]
    assert external_consumer(json.dumps(data)) is None
    # Our sender fails it permanently for the same reason.
    assert sender_drain(until_empty=True, poll_seconds=0).permanently_failed == 1


def test_pointer_bodies_are_unchanged(settings):
    """The default form is byte for byte what it always was."""
    import uuid

    pk = uuid.uuid4()
    assert Envelope(pk, 1, "a", 2, 1).encode() == (
        f'{{"v":1,"message_id":"{pk}","batch_id":1,"recipient":"a","template_id":2,"attempt":1}}'
    )
