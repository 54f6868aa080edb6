"""The small, versioned JSON that travels on the queue.

``{"v": 1, "message_id": "<uuid>", "batch_id": ..., "recipient": ...,
"template_id": ..., "attempt": n}``. It only points at a ``MessageLog`` row;
the row is the truth.

With ``QUEUE_ENVELOPE=full`` it also carries ``"payload"``: the rendered
message, the recipient's columns, the channel, the batch and the template
(``Payload``; the schema is in docs/envelope.md), so a consumer outside this
product can deliver from the queue alone. Both forms are version 1: a reader
of the pointer form ignores the payload, and ``decode`` reads either.
"""

import json
import re
import uuid
from dataclasses import dataclass

VERSION = 1


class InvalidEnvelope(ValueError):
    """A queue body that is not one of our envelopes."""


@dataclass(frozen=True)
class Payload:
    """What a consumer needs to deliver without our database (the full form)."""

    body: str | None  # the rendered message; None when it cannot be rendered
    problem: str  # why there is no body ("" when there is one)
    channel: str
    context: dict
    batch_name: str
    priority: int
    template_name: str

    def as_dict(self, batch_id: int | None, template_id: int | None) -> dict:
        return {
            "body": self.body,
            "problem": self.problem,
            "channel": self.channel,
            "context": self.context,
            "batch": {"id": batch_id, "name": self.batch_name, "priority": self.priority},
            "template": {"id": template_id, "name": self.template_name},
        }


@dataclass(frozen=True)
class Envelope:
    message_id: uuid.UUID
    batch_id: int | None
    recipient: str
    template_id: int | None
    attempt: int
    payload: Payload | None = None

    def encode(self) -> str:
        # Formatted directly (only the recipient needs JSON escaping): this runs
        # once per message of a 100,000-recipient batch. Same bytes as
        # json.dumps(..., separators=(",", ":")) of the dict, as a test checks.
        pointer = (
            f'{{"v":{VERSION},"message_id":"{self.message_id}",'
            f'"batch_id":{_json_int(self.batch_id)},"recipient":{json.dumps(self.recipient)},'
            f'"template_id":{_json_int(self.template_id)},"attempt":{int(self.attempt)}'
        )
        if self.payload is None:
            return pointer + "}"
        payload = self.payload.as_dict(self.batch_id, self.template_id)
        return f'{pointer},"payload":{json.dumps(payload, separators=(",", ":"))}}}'


def _json_int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def _is_int(value: object) -> bool:
    # JSON true/false decode to bool, which Python counts as int: not ours.
    return isinstance(value, int) and not isinstance(value, bool)


def decode(body: str) -> Envelope:
    try:
        data = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise InvalidEnvelope(f"body is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise InvalidEnvelope("body is JSON but not an object")
    if not _is_int(data.get("v")) or data["v"] != VERSION:
        raise InvalidEnvelope(f"unsupported envelope version {data.get('v')!r}")
    try:
        message_id = uuid.UUID(str(data["message_id"]))
    except (KeyError, ValueError):
        raise InvalidEnvelope("missing or malformed message_id") from None
    batch_id, template_id, attempt = (
        data.get("batch_id"),
        data.get("template_id"),
        data.get("attempt"),
    )
    if batch_id is not None and not _is_int(batch_id):
        raise InvalidEnvelope("batch_id must be an integer or null")
    if template_id is not None and not _is_int(template_id):
        raise InvalidEnvelope("template_id must be an integer or null")
    if not _is_int(attempt) or attempt < 1:
        raise InvalidEnvelope("attempt must be a positive integer")
    recipient = data.get("recipient")
    if not isinstance(recipient, str):
        raise InvalidEnvelope("recipient must be a string")
    payload = None if data.get("payload") is None else _payload(data["payload"])
    return Envelope(message_id, batch_id, recipient, template_id, attempt, payload)


# The pointer form exactly as ``Envelope.encode`` writes it: every body that
# matches is one ``decode`` accepts if its message id is one ``uuid.UUID``
# reads (a JSON object of these keys alone, each of the type decode checks),
# so the id can be read without building the object. ASCII classes only
# (``\d`` would match other scripts' digits); strings unrolled (a run of
# plain characters, then an escape), which sre matches a run at a time.
_INT = "-?(?:0|[1-9][0-9]*)"
_STRING = r'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"'
_POINTER = re.compile(
    rf'\{{"v":1,"message_id":"([0-9a-f-]{{36}})","batch_id":(?:null|{_INT}),'
    rf'"recipient":{_STRING},"template_id":(?:null|{_INT}),"attempt":[1-9][0-9]*\}}'
)


class MessageId(uuid.UUID):
    """A message id that keeps the text it was read from (the canonical
    form ``str`` gives): the delivery log writes each one out again, and
    ``UUID.__str__`` rebuilds it from the integer every time."""

    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        super().__init__(text)
        object.__setattr__(self, "_text", text)

    def __str__(self) -> str:
        text = getattr(self, "_text", None)  # unset in a copy made from the integer
        return super().__str__() if text is None else text

    @property
    def hex(self) -> str:
        text = getattr(self, "_text", None)
        return super().hex if text is None else text.replace("-", "")


def message_id_of(body: str) -> uuid.UUID:
    """The message id of an envelope, for a reader that needs nothing else
    (the sender: the log is the truth). Accepts and refuses exactly what
    ``decode`` does; a body as ``encode`` wrote it is read without decoding
    the JSON (a third of the cost)."""
    match = _POINTER.fullmatch(body) if body.__class__ is str else None
    if match is not None:
        text = match[1]
        try:
            if text[8] == text[13] == text[18] == text[23] == "-":
                return MessageId(text)  # 4 hyphens placed, 32 digits: canonical
            return uuid.UUID(text)
        except ValueError:
            pass  # decode says why
    return decode(body).message_id


def _payload(data: object) -> Payload:
    """The full form's ``payload`` (docs/envelope.md), checked field by field."""
    if not isinstance(data, dict):
        raise InvalidEnvelope("payload must be an object")
    batch, template = data.get("batch"), data.get("template")
    if not isinstance(batch, dict) or not isinstance(template, dict):
        raise InvalidEnvelope("payload.batch and payload.template must be objects")
    fields = {
        "payload.body": (data.get("body"), (str, type(None))),
        "payload.problem": (data.get("problem"), str),
        "payload.channel": (data.get("channel"), str),
        "payload.context": (data.get("context"), dict),
        "payload.batch.name": (batch.get("name"), str),
        "payload.template.name": (template.get("name"), str),
    }
    for name, (value, kind) in fields.items():
        if not isinstance(value, kind):
            raise InvalidEnvelope(f"{name} is missing or of the wrong type")
    if not _is_int(batch.get("priority")):
        raise InvalidEnvelope("payload.batch.priority must be an integer")
    return Payload(
        body=data["body"],
        problem=data["problem"],
        channel=data["channel"],
        context=data["context"],
        batch_name=batch["name"],
        priority=batch["priority"],
        template_name=template["name"],
    )
