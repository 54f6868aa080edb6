import json
import re
import uuid
from dataclasses import replace
from pathlib import Path

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from retry_admin.envelope import (
    VERSION,
    Envelope,
    InvalidEnvelope,
    Payload,
    decode,
    message_id_of,
)
from tests.strategies import FUZZ

MESSAGE_ID = uuid.UUID("0190a6c2-7b3e-7c4d-8e5f-112233445566")


def _body(**changes) -> str:
    data = {
        "v": VERSION,
        "message_id": str(MESSAGE_ID),
        "batch_id": 12,
        "recipient": "+447700900123",
        "template_id": 3,
        "attempt": 2,
    }
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data)


_DROP = object()


def test_it_round_trips():
    envelope = Envelope(MESSAGE_ID, 12, "+447700900123", 3, 2)
    assert decode(envelope.encode()) == envelope


def test_it_round_trips_without_batch_or_template():
    envelope = Envelope(MESSAGE_ID, None, "ada@example.com", None, 1)
    assert decode(envelope.encode()) == envelope


def test_it_encodes_small_versioned_json():
    data = json.loads(Envelope(MESSAGE_ID, 12, "x", 3, 2).encode())
    assert data == {
        "v": 1,
        "message_id": str(MESSAGE_ID),
        "batch_id": 12,
        "recipient": "x",
        "template_id": 3,
        "attempt": 2,
    }


def test_it_decodes_a_hand_written_body():
    envelope = decode(_body())
    assert envelope.message_id == MESSAGE_ID
    assert (envelope.batch_id, envelope.template_id, envelope.attempt) == (12, 3, 2)


NOT_OURS = [
    ("this is not json", "not JSON"),
    ("", "not JSON"),
    ("[1, 2, 3]", "not an object"),
    ('"a string"', "not an object"),
    (_body(v=2), "unsupported envelope version 2"),
    (_body(v=_DROP), "unsupported envelope version None"),
    (_body(v=True), "unsupported envelope version True"),
    (_body(message_id=_DROP), "missing or malformed message_id"),
    (_body(message_id="not-a-uuid"), "missing or malformed message_id"),
    (_body(message_id=123), "missing or malformed message_id"),
    (_body(message_id=None), "missing or malformed message_id"),
    (_body(attempt=0), "attempt must be a positive integer"),
    (_body(attempt=-1), "attempt must be a positive integer"),
    (_body(attempt="1"), "attempt must be a positive integer"),
    (_body(attempt=1.5), "attempt must be a positive integer"),
    (_body(attempt=True), "attempt must be a positive integer"),
    (_body(attempt=_DROP), "attempt must be a positive integer"),
    (_body(recipient=42), "recipient must be a string"),
    (_body(recipient=None), "recipient must be a string"),
    (_body(recipient=_DROP), "recipient must be a string"),
    (_body(batch_id="12"), "batch_id must be an integer or null"),
    (_body(batch_id=1.5), "batch_id must be an integer or null"),
    (_body(batch_id=True), "batch_id must be an integer or null"),
    (_body(template_id="3"), "template_id must be an integer or null"),
    (_body(template_id=False), "template_id must be an integer or null"),
]


@pytest.mark.parametrize(("body", "message"), NOT_OURS)
def test_it_rejects_what_is_not_our_envelope(body, message):
    with pytest.raises(InvalidEnvelope) as info:
        decode(body)
    assert message in str(info.value)


def test_an_invalid_envelope_is_a_value_error():
    assert issubclass(InvalidEnvelope, ValueError)


@pytest.mark.parametrize(
    "recipient", ["ada@example.com", 'quote " and \\ backslash', "<script>é</script>", "\u2028"]
)
@pytest.mark.parametrize(("batch_id", "template_id"), [(7, 3), (None, None)])
def test_encode_is_exactly_compact_json(recipient, batch_id, template_id):
    message_id = uuid.uuid4()
    body = Envelope(message_id, batch_id, recipient, template_id, 2).encode()
    assert body == json.dumps(
        {
            "v": 1,
            "message_id": str(message_id),
            "batch_id": batch_id,
            "recipient": recipient,
            "template_id": template_id,
            "attempt": 2,
        },
        separators=(",", ":"),
    )


# The full form (QUEUE_ENVELOPE=full, docs/envelope.md)

SCHEMA = json.loads(
    (Path(__file__).resolve().parent.parent / "docs" / "envelope.schema.json").read_text()
)
PAYLOAD = Payload(
    body="Hello Ada, order 42 shipped",
    problem="",
    channel="whatsapp",
    context={"name": "Ada", "order": 42, "note": 'quote " é \u2028'},
    batch_name="Spring sale",
    priority=1,
    template_name="order_update",
)


def test_the_full_form_round_trips():
    envelope = Envelope(MESSAGE_ID, 12, "+447700900123", 3, 2, PAYLOAD)
    assert decode(envelope.encode()) == envelope


def test_the_full_form_is_the_pointer_plus_a_payload():
    full = json.loads(Envelope(MESSAGE_ID, 12, "+447700900123", 3, 2, PAYLOAD).encode())
    pointer = json.loads(Envelope(MESSAGE_ID, 12, "+447700900123", 3, 2).encode())
    assert {k: v for k, v in full.items() if k != "payload"} == pointer
    assert full["payload"] == {
        "body": "Hello Ada, order 42 shipped",
        "problem": "",
        "channel": "whatsapp",
        "context": {"name": "Ada", "order": 42, "note": 'quote " é \u2028'},
        "batch": {"id": 12, "name": "Spring sale", "priority": 1},
        "template": {"id": 3, "name": "order_update"},
    }
    # A reader of the pointer form gets the same envelope without the payload.
    assert decode(json.dumps(pointer)) == Envelope(MESSAGE_ID, 12, "+447700900123", 3, 2)


def test_both_forms_match_the_published_schema():
    validator = jsonschema.Draft202012Validator(SCHEMA)
    for envelope in (
        Envelope(MESSAGE_ID, 12, "x", 3, 2),
        Envelope(MESSAGE_ID, None, "x", None, 1),
        Envelope(MESSAGE_ID, 12, "x", 3, 2, PAYLOAD),
        Envelope(MESSAGE_ID, 12, "x", 3, 2, replace(PAYLOAD, body=None, problem="gone")),
    ):
        validator.validate(json.loads(envelope.encode()))


def _full(**changes) -> str:
    data = json.loads(Envelope(MESSAGE_ID, 12, "x", 3, 2, PAYLOAD).encode())
    for key, value in changes.items():
        target, _, field = key.rpartition("__")
        holder = data["payload"] if not target else data["payload"][target]
        holder[field] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps({**json.loads(_body()), "payload": [1]}), "payload must be an object"),
        (json.dumps({**json.loads(_body()), "payload": "text"}), "payload must be an object"),
        (_full(batch="x"), "payload.batch and payload.template must be objects"),
        (_full(body=42), "payload.body is missing or of the wrong type"),
        (_full(problem=None), "payload.problem is missing"),
        (_full(channel=None), "payload.channel is missing"),
        (_full(context=[1]), "payload.context is missing"),
        (_full(batch__name=7), "payload.batch.name is missing"),
        (_full(template__name=None), "payload.template.name is missing"),
        (_full(batch__priority="high"), "payload.batch.priority must be an integer"),
    ],
)
def test_it_rejects_a_malformed_payload(body, message):
    with pytest.raises(InvalidEnvelope, match=re.escape(message)):
        decode(body)


# message_id_of: the sender's reader, exactly as strict as decode


def _body_compact(message_id: str) -> str:
    return Envelope(MESSAGE_ID, 12, "x", 3, 1).encode().replace(str(MESSAGE_ID), message_id)


def _outcome(read, body):
    try:
        return read(body)
    except InvalidEnvelope as exc:
        return ("refused", str(exc))


@pytest.mark.parametrize(
    "body",
    [
        _body(),
        Envelope(MESSAGE_ID, None, 'quote " \\ é \u2028 \x00', None, 1).encode(),
        Envelope(MESSAGE_ID, -3, "", 0, 10**20).encode(),
        Envelope(MESSAGE_ID, 12, "x", 3, 2, PAYLOAD).encode(),
        *(body for body, _ in NOT_OURS),
        # compact, as encode writes, yet not ours
        Envelope(MESSAGE_ID, 12, "x", 3, 0).encode(),
        Envelope(MESSAGE_ID, 12, "x", 3, 1).encode().replace('"v":1', '"v":2'),
        Envelope(MESSAGE_ID, 12, "x", 3, 1).encode().replace('"x"', '"\\x"'),
        Envelope(MESSAGE_ID, 12, "x", 3, 1).encode().replace('"x"', '"\t"'),
        Envelope(MESSAGE_ID, 12, "x", 3, 1).encode().replace("12", "\u0661"),
        str(MESSAGE_ID).encode(),
        # 36 characters of hex and hyphens: uuid.UUID (and so decode) decides
        _body_compact("0190a6c2-7b3e7c4d-8e5f-1122-33445566"),
        _body_compact("0190a6c27b3e7c4d8e5f112233445566----"),
        _body_compact("-" * 36),
        _body_compact("0190a6c2-7b3e-7c4d-8e5f-1122334455-6"),
    ],
)
def test_message_id_of_reads_and_refuses_what_decode_does(body):
    expected = _outcome(lambda b: decode(b).message_id, body)
    assert _outcome(message_id_of, body) == expected


@given(
    recipient=st.text(),
    batch_id=st.none() | st.integers(),
    template_id=st.none() | st.integers(),
    attempt=st.integers(min_value=1),
    edits=st.lists(st.tuples(st.integers(min_value=0), st.characters()), max_size=3),
)
@FUZZ
def test_message_id_of_agrees_with_decode_on_any_body(
    recipient, batch_id, template_id, attempt, edits
):
    """Written by encode, then possibly damaged a character at a time: the
    fast path must never accept a body decode refuses, nor read another id."""
    body = Envelope(uuid.uuid4(), batch_id, recipient, template_id, attempt).encode()
    for position, char in edits:
        position %= len(body) + 1
        body = body[:position] + char + body[position + 1 :]
    assert _outcome(message_id_of, body) == _outcome(lambda b: decode(b).message_id, body)
