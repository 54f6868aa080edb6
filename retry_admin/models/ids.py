"""Message ids: UUIDv7s (RFC 9562), ordered by creation time."""

import os
import time
import uuid
from datetime import datetime

_MS_MASK = (1 << 48) - 1
_VERSION = 0x7 << 76
_VARIANT = 0b10 << 62


def uuid7_int(ms: int, rand: int) -> int:
    """The UUIDv7 of millisecond ``ms`` with 74 random bits ``rand``, as an int."""
    return (
        (ms & _MS_MASK) << 80
        | _VERSION
        | ((rand >> 62) & 0xFFF) << 64
        | _VARIANT
        | (rand & ((1 << 62) - 1))
    )


def uuid7_floor(moment: datetime) -> uuid.UUID:
    """The smallest UUIDv7 of ``moment``'s millisecond: a date range of
    messages is an id range."""
    ms = min(max(int(moment.timestamp() * 1000), 0), _MS_MASK)
    return uuid.UUID(int=uuid7_int(ms, 0))


def new_message_id() -> uuid.UUID:
    """A UUIDv7: random enough to be an idempotency key, and ordered by
    creation time so keyset pagination by id is newest-first for free."""
    return new_message_ids(1)[0]


def new_message_ids(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one read of the OS random source."""
    ms = time.time_ns() // 1_000_000
    entropy = os.urandom(10 * count)
    values = [
        uuid7_int(ms, int.from_bytes(entropy[start : start + 10], "big"))
        for start in range(0, 10 * count, 10)
    ]
    # Monotonic within the millisecond (RFC 9562 §6.2): inserted in this order
    # they append to the primary key index instead of landing at random.
    values.sort()
    return [uuid.UUID(int=value) for value in values]


def new_message_id_hexes(count: int) -> list[str]:
    """What ``new_message_ids`` makes, as 32 hex digits (the form SQLite
    stores and COPY reads), without building ``UUID`` objects: for writers of
    many rows at once."""
    ms = time.time_ns() // 1_000_000
    entropy = os.urandom(10 * count)
    from_bytes = int.from_bytes
    values = [
        uuid7_int(ms, from_bytes(entropy[start : start + 10], "big"))
        for start in range(0, 10 * count, 10)
    ]
    values.sort()
    return [f"{value:032x}" for value in values]
