"""The queue transport contract.

Every transport (``db``, ``sqs``, ``azure``) implements this class; the
services never touch a queue any other way. Methods take and return lists so
each backend can batch as far as its service allows (``max_send_batch``,
``max_receive``) and report a result per entry: one bad entry never fails the
rest, and nothing is dropped without being reported.
"""

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

# Characters XML 1.0 cannot carry: SQS refuses them in a body, and so does
# Azure's text encoding.
XML_UNSAFE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class QueueError(Exception):
    """The queue could not do what was asked (unreachable, throttled, missing).

    Services treat it as "try again later": nothing is marked as sent or
    dropped because of it.
    """


class ReceivedMessage(NamedTuple):
    """One received message (a tuple: a receive makes hundreds at a time)."""

    handle: str  # opaque receipt: what ack / release / dead_letter take
    body: str
    receive_count: int


@dataclass(frozen=True)
class SendResult:
    ok: bool
    error: str = ""


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


@dataclass(frozen=True)
class DeadLetter:
    id: str  # what dlq_move / dlq_purge take
    body: str
    receive_count: int
    dead_at: datetime | None
    reason: str = ""
    # The transport's own evidence, label -> text, shown as it is on the DLQ
    # page and in the API (RabbitMQ's x-death and x-retries, Redis's due
    # time and attempts).
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class MoveResult:
    moved: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


class QueueBackend:
    name: str = ""
    max_send_batch: int = 1
    max_receive: int = 1
    max_body_bytes: int = 256 * 1024
    # True when send() writes through the caller's database transaction, so
    # an enqueue and the status change that goes with it commit together.
    transactional: bool = False
    # True when the queue service can move a message to the DLQ by itself (an
    # SQS redrive policy): its log may still say pending, and
    # services.dlq.dlq_reconcile catches up with it.
    redrives: bool = False

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """Enqueue bodies; one result per body, in order."""
        raise NotImplementedError

    def receive(self, max_messages: int, *, visibility_timeout: int) -> list[ReceivedMessage]:
        """Take up to ``max_messages`` out of sight for ``visibility_timeout`` s;
        each receive raises the message's receive count."""
        raise NotImplementedError

    def ack(self, handles: Sequence[str]) -> None:
        """Delete received messages: only after their outcome is committed."""
        raise NotImplementedError

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        """Make received messages visible again after ``delay_seconds``."""
        raise NotImplementedError

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        """Keep received messages out of sight for ``visibility_timeout`` s from
        now: work in flight outlives its first timeout however slow the channel.

        Returns, for each message still held, the handle to use from now on
        (Azure issues a new receipt on every update); a message that is no
        longer ours is left out."""
        raise NotImplementedError

    def dead_letter(self, handles: Sequence[str], *, reason: str) -> None:
        """Move received messages to the dead-letter queue."""
        raise NotImplementedError

    def depth(self) -> QueueDepth:
        raise NotImplementedError

    def dlq_depth(self) -> int:
        raise NotImplementedError

    def dlq_peek(self, *, limit: int = 100, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        """Read DLQ messages without removing them (all, oldest first, or ``ids``)."""
        raise NotImplementedError

    def dlq_move(self, ids: Sequence[str]) -> MoveResult:
        """Put DLQ messages back on the main queue; a message leaves the DLQ only
        once it is on the main queue."""
        raise NotImplementedError

    def dlq_purge(self, ids: Sequence[str] | None = None) -> int:
        """Delete DLQ messages (``ids``, or all); returns how many."""
        raise NotImplementedError

    def ensure(self) -> None:
        """Create the queue and its DLQ if they do not exist."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the connections (and consumers) this thread holds: the
        backend is being replaced. Most hold nothing that needs it."""

    def describe(self) -> str:
        """Where this backend points, for pages and logs (no secrets)."""
        return self.name

    def body_problem(self, body: str) -> str | None:
        """Why ``send`` would refuse ``body`` whatever the moment (too large
        for this transport), or None. Lets a caller fail one message clearly
        instead of retrying a body that can never be sent."""
        size = len(body.encode("utf-8"))
        if size > self.max_body_bytes:
            limit = self.max_body_bytes
            return f"body is {size} bytes; the {self.name} queue takes at most {limit}"
        return None


def pack_handle(*fields: object) -> str:
    """A receipt handle that carries what a transport needs to ack, release
    or dead-letter a message without receiving it again."""
    return json.dumps(fields)


def unpack_handle(handle: str, size: int, *, transport: str) -> list:
    try:
        fields = json.loads(handle)
        if not isinstance(fields, list) or len(fields) != size:
            raise ValueError(handle)
    except (TypeError, ValueError):
        raise QueueError(f"Not a receipt handle of the {transport}: {handle[:80]!r}") from None
    return fields


class RateLimit:
    """Paces bulk work (a DLQ replay) to at most ``per_second`` items a second;
    0 means no limit. Not thread-safe: one per operation."""

    def __init__(self, per_second: float) -> None:
        self.per_second = per_second
        self._next = 0.0

    def wait(self, items: int = 1) -> None:
        if self.per_second <= 0:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(self._next, now) + items / self.per_second
