"""The small, versioned JSON that travels on the queue.

``{"v": 1, "message_id": "<uuid>", "batch_id": ..., "recipient": ...,
"template_id": ..., "attempt": n}``. It only points at a ``MessageLog`` row;
the row is the truth.
"""

import json
import uuid
from dataclasses import dataclass

VERSION = 1


class InvalidEnvelope(ValueError):
    """A queue body that is not one of our envelopes."""


@dataclass(frozen=True)
class Envelope:
    message_id: uuid.UUID
    batch_id: int | None
    recipient: str
    template_id: int | None
    attempt: int

    def encode(self) -> str:
        # Formatted directly (only the recipient needs JSON escaping): this runs
        # once per message of a 100,000-recipient batch. Same bytes as
        # json.dumps(..., separators=(",", ":")) of the dict, as a test checks.
        return (
            f'{{"v":{VERSION},"message_id":"{self.message_id}",'
            f'"batch_id":{_json_int(self.batch_id)},"recipient":{json.dumps(self.recipient)},'
            f'"template_id":{_json_int(self.template_id)},"attempt":{int(self.attempt)}}}'
        )


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
    return Envelope(message_id, batch_id, recipient, template_id, attempt)
