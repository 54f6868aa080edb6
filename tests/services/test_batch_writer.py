"""The batch writer's fast paths write what the general ones would."""

import uuid

import pytest
from django.db import connection  # noqa: F401 (the skipif condition reads it)

from retry_admin.envelope import Envelope, decode
from retry_admin.models import Batch, MessageLog, QueueMessage
from retry_admin.models.ids import new_message_id_hexes
from retry_admin.services.batch_writer import pointer_bodies
from retry_admin.services.batches import BatchValidationError, RecipientRow, batch_create

pytestmark = pytest.mark.django_db

AWKWARD = ['a"b\\c@example.com', "élodie@exemple.fr", "😀@example.com", "tab\u2028sep", "</script>"]


def test_pointer_bodies_are_the_bytes_envelope_encode_writes(template):
    batch = Batch.objects.create(name="B", template=template, channel="log")
    ids = new_message_id_hexes(len(AWKWARD))

    bodies = pointer_bodies(batch, ids, AWKWARD)

    expected = [
        Envelope(uuid.UUID(hex=pk), batch.pk, recipient, template.pk, 1).encode()
        for pk, recipient in zip(ids, AWKWARD, strict=True)
    ]
    assert bodies == expected
    assert [decode(body).recipient for body in bodies] == AWKWARD


def test_hex_ids_are_uuid7_in_order():
    ids = new_message_id_hexes(2000)
    assert ids == sorted(ids) and len(set(ids)) == 2000
    assert all(uuid.UUID(hex=pk).version == 7 for pk in ids)


def test_contexts_and_recipients_round_trip_through_the_batch_writer(template):
    contexts = [
        {"name": 'Zoë "the" \\ first', "code": "1"},
        {"name": "line\nbreak", "code": 2, "ratio": 0.1, "ok": True, "none": None},
        {"name": "😀", "code": "x\u2028y"},
    ]
    rows = [
        RecipientRow(line=i + 1, recipient=recipient, context=context)
        for i, (recipient, context) in enumerate(zip(AWKWARD, contexts, strict=False))
    ]

    batch = batch_create(name="Awkward", template=template, recipients=rows).batch

    stored = dict(MessageLog.objects.filter(batch=batch).values_list("recipient", "context"))
    assert stored == {row.recipient: row.context for row in rows}
    bodies = QueueMessage.objects.values_list("body", flat=True)
    assert sorted(decode(body).recipient for body in bodies) == sorted(stored)


def test_a_nul_character_in_a_value_is_refused_on_every_database(template):
    """PostgreSQL's jsonb refuses it (the request answered 500 there)."""
    rows = [RecipientRow(line=1, recipient="ada@example.com", context={"name": "A\x00da"})]

    with pytest.raises(BatchValidationError) as info:
        batch_create(name="Nul", template=template, recipients=rows)

    assert [str(e) for e in info.value.errors] == [
        "line 1: value of 'name' contains a NUL character"
    ]
    assert MessageLog.objects.count() == 0


@pytest.mark.parametrize("number", [float("nan"), float("inf"), float("-inf")])
def test_a_number_json_cannot_hold_is_refused_on_every_database(template, number):
    """JSON has no NaN or infinity: the log's context could not hold it (the
    request answered 500: SQLite's JSON check, PostgreSQL's json input)."""
    rows = [
        RecipientRow(line=1, recipient="ada@example.com", context={"name": "Ada"}),
        RecipientRow(line=2, recipient="bob@example.com", context={"name": "Bob", "x": number}),
    ]

    with pytest.raises(BatchValidationError) as info:
        batch_create(name="Nan", template=template, recipients=rows)

    assert [str(e) for e in info.value.errors] == ["line 2: value of 'x' must be a finite number"]
    assert MessageLog.objects.count() == 0


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="PostgreSQL text holds no NUL")
def test_insert_rows_sends_a_chunk_json_cannot_carry_through_executemany(template):
    from retry_admin.models import MessageEvent, insert_rows

    rows = [RecipientRow(line=1, recipient="ada@example.com", context={"name": "Ada"})]
    log = MessageLog.objects.get(
        batch=batch_create(name="B", template=template, recipients=rows).batch
    )

    insert_rows(
        MessageEvent,
        ["message_id", "detail"],
        [(log.id, "before\x00after"), (log.id, "plain")],
        kind=MessageEvent.Kind.MANUAL_RETRY,
    )

    details = sorted(MessageEvent.objects.values_list("detail", flat=True))
    assert details == ["before\x00after", "plain"]
