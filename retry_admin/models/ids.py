"""Message ids: UUIDv7s, ordered by creation time."""

import os
import time
import uuid


def new_message_id() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): random enough to be an idempotency key, and ordered
    by creation time so keyset pagination by id is newest-first for free."""
    return new_message_ids(1)[0]


def new_message_ids(count: int) -> list[uuid.UUID]:
    """``count`` UUIDv7s from one read of the OS random source."""
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    head = (ms << 80) | (0x7 << 76)
    entropy = os.urandom(10 * count)
    values = []
    for start in range(0, 10 * count, 10):
        rand = int.from_bytes(entropy[start : start + 10], "big")
        values.append(
            head | (((rand >> 62) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
        )
    # Monotonic within the millisecond (RFC 9562 §6.2): inserted in this order
    # they append to the primary key index instead of landing at random.
    values.sort()
    return [uuid.UUID(int=value) for value in values]
