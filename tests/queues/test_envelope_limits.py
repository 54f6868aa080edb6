"""QUEUE_ENVELOPE=full on every transport: each one's own body limit decides
(SQS, RabbitMQ, Redis and the db queue 256 KiB; Azure 64 KiB after base64),
a body over it fails its message with the reason instead of being lost or
refused again and again, and what gets on the queue round-trips."""

import pytest
from django.utils import timezone

from retry_admin.envelope import decode
from retry_admin.models import Batch, MessageLog, Status, Template
from retry_admin.services.dispatch import dispatch

# ~120 KB of JSON once the value is in both the columns and the rendered body.
MEDIUM = "m" * 60_000
HUGE = "h" * 300_000


@pytest.fixture
def outbox(db, settings):
    """A batch of three logs in the outbox (never enqueued): small, medium, huge."""
    settings.QUEUE_ENVELOPE = "full"
    template = Template.objects.create(name="Note", body="Note: {{ note }}")
    batch = Batch.objects.create(name="Sizes", template=template, channel="log", total=3)
    now = timezone.now()
    logs = {}
    for size, note in (("small", "hello"), ("medium", MEDIUM), ("huge", HUGE)):
        logs[size] = MessageLog.objects.create(
            batch=batch, recipient=f"{size}@example.com", context={"note": note}, updated_at=now
        )
    return batch, logs


def test_each_transport_applies_its_own_limit(queue_backend, outbox):
    batch, logs = outbox
    too_big = {"huge"} | ({"medium"} if queue_backend.name == "azure" else set())
    result = dispatch(batch_id=batch.pk)
    assert result.enqueued == 3 - len(too_big)
    assert set(result.failed) == {logs[size].pk for size in too_big}
    for size, log in logs.items():
        log.refresh_from_db()
        if size in too_big:
            assert log.status == Status.PERMANENTLY_FAILED
            assert log.last_error.startswith("Envelope refused before sending: body is ")
            assert result.failed[log.pk] == log.last_error
        else:
            assert log.status == Status.PENDING and log.enqueued_at is not None

    received = []
    for _ in range(10):
        received += queue_backend.receive(10, visibility_timeout=30)
        if len(received) >= 3 - len(too_big):
            break
    envelopes = {decode(item.body).message_id: decode(item.body) for item in received}
    assert set(envelopes) == {logs[s].pk for s in logs if s not in too_big}
    small = envelopes[logs["small"].pk]
    assert small.payload.body == "Note: hello"
    assert small.payload.context == {"note": "hello"}
    if "medium" not in too_big:
        assert envelopes[logs["medium"].pk].payload.body == f"Note: {MEDIUM}"
    queue_backend.ack([item.handle for item in received])

    # Refused once, not again and again: the next walk of the outbox has nothing.
    assert dispatch(batch_id=batch.pk).enqueued == 0
