"""What transports over a remote queue service share, written once.

SQS and Azure (and any broker like them) receive in pages, dead-letter by
copying a message to a second queue and deleting it from the first, and
cannot look a DLQ entry up by id or list their DLQ: the only way to find an
entry is to receive messages, keep the ones wanted and make the others
visible again. The receive loop, dead-lettering, and the DLQ's scan, peek,
move and purge are written once here, over a handful of primitives each such
transport supplies (as Sidekiq's retry and dead sets share one sorted-set
base).

Moving is receive → send to the main queue → delete from the DLQ only what
was sent: an entry is never in neither queue, and one that could not be sent
stays in the DLQ with its error reported.
"""

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from retry_admin.queues.base import (
    DeadLetter,
    MoveResult,
    QueueBackend,
    QueueError,
    RateLimit,
    ReceivedMessage,
    SendResult,
)

logger = logging.getLogger(__name__)

# How long a scan hides the DLQ messages it looks at from other readers: long
# enough to finish one operation, short enough that an interrupted one heals.
SCAN_VISIBILITY_SECONDS = 60


class RemoteQueue(QueueBackend):
    """Receive, dead-letter, and peek, move and purge a DLQ read by receiving.
    Subclasses supply the primitives below; a "raw" DLQ message is whatever
    their SDK returns for one."""

    dlq_label = "dead-letter queue"
    move_chunk = 10  # entries sent to the main queue per call

    # Primitives

    def _receive_page(
        self, count: int, *, visibility_timeout: int, first: bool
    ) -> list[ReceivedMessage]:
        """One receive call of at most ``count`` (``first``: the first of a
        receive, which may long-poll)."""
        raise NotImplementedError

    def _copy_to_dlq(self, handles: Sequence[str], *, reason: str) -> list[SendResult]:
        """Put these received messages on the DLQ; one result per handle."""
        raise NotImplementedError

    def _handle_id(self, handle: str) -> str:
        """The message id inside a receipt handle, for error reports."""
        raise NotImplementedError

    def _dlq_receive(self, *, first: bool) -> list[Any]:
        """One page of DLQ messages, hidden for ``SCAN_VISIBILITY_SECONDS``
        (``first``: the first page of a scan, which may wait briefly)."""
        raise NotImplementedError

    def _dlq_id(self, raw: Any) -> str:
        raise NotImplementedError

    def _dlq_release(self, raws: Sequence[Any]) -> None:
        """Make scanned DLQ messages visible again at once."""
        raise NotImplementedError

    def _dlq_delete(self, raws: Sequence[Any]) -> int:
        """Delete scanned DLQ messages; returns how many went."""
        raise NotImplementedError

    def _dlq_entry(self, raw: Any) -> DeadLetter:
        raise NotImplementedError

    def _dlq_done(self) -> None:
        """Called after every peek, move and purge, whatever happened (a
        transport that scans on a channel of its own closes it here)."""

    def _send_to_main(self, raws: Sequence[Any]) -> list[SendResult]:
        """Put these DLQ messages' bodies on the main queue, unchanged; one
        result per message, in order."""
        raise NotImplementedError

    # Main queue

    def receive(self, max_messages: int, *, visibility_timeout: int) -> list[ReceivedMessage]:
        """Receive page after page while messages keep coming."""
        received: list[ReceivedMessage] = []
        first = True
        while len(received) < max_messages:
            count = min(self.max_receive, max_messages - len(received))
            try:
                page = self._receive_page(count, visibility_timeout=visibility_timeout, first=first)
            except QueueError:
                if not received:
                    raise
                break  # keep what is in hand: it is invisible to others anyway
            first = False
            if not page:
                break
            received.extend(page)
        return received

    def dead_letter(self, handles: Sequence[str], *, reason: str) -> None:
        """Copy to the DLQ, then delete from the main queue what was copied;
        what could not be copied stays on the main queue and is reported."""
        if not handles:
            return
        results = self._copy_to_dlq(handles, reason=reason)
        self.ack([h for h, r in zip(handles, results, strict=True) if r.ok])
        failed = {
            self._handle_id(h): r.error for h, r in zip(handles, results, strict=True) if not r.ok
        }
        if failed:
            raise QueueError(
                f"{len(failed)} message(s) could not be copied to the {self.dlq_label} and "
                f"stay on the main queue: {failed}"
            )

    # The dead-letter queue

    def _scan(
        self, wanted: Callable[[Any], bool], enough: Callable[[list], bool]
    ) -> tuple[list[Any], list[Any]]:
        """Receive from the DLQ until ``enough(kept)`` or nothing new comes;
        returns (kept, the rest). The caller must release or delete both."""
        kept: list[Any] = []
        rest: list[Any] = []
        seen: set[str] = set()
        first = True
        while not enough(kept):
            page = self._dlq_receive(first=first)
            first = False
            if not any(self._dlq_id(raw) not in seen for raw in page):
                rest.extend(page)  # seen before: its newer receipt must be released
                break
            for raw in page:
                raw_id = self._dlq_id(raw)
                if raw_id in seen:
                    rest.append(raw)
                    continue
                seen.add(raw_id)
                (kept if wanted(raw) and not enough(kept) else rest).append(raw)
        return kept, rest

    def _matching(self, ids: set[str] | None) -> Callable[[Any], bool]:
        return lambda raw: ids is None or self._dlq_id(raw) in ids

    def dlq_peek(self, *, limit: int = 100, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        """Read by receiving and at once releasing: for the moment of a scan
        the DLQ's messages are invisible to other readers."""
        try:
            return self._dlq_peek(limit=limit, ids=ids)
        finally:
            self._dlq_done()

    def _dlq_peek(self, *, limit: int, ids: Sequence[str] | None) -> list[DeadLetter]:
        wanted = None if ids is None else set(ids)
        goal = limit if wanted is None else min(limit, len(wanted))
        if goal <= 0:
            return []
        kept, rest = self._scan(self._matching(wanted), enough=lambda k: len(k) >= goal)
        self._dlq_release(kept + rest)
        return oldest_first([self._dlq_entry(raw) for raw in kept])

    def dlq_move(self, ids: Sequence[str]) -> MoveResult:
        """Send the entries to the main queue unchanged and delete from the DLQ
        only those that were sent (paced by ``DLQ_REPLAY_RATE``)."""
        try:
            return self._dlq_move(ids)
        finally:
            self._dlq_done()

    def _dlq_move(self, ids: Sequence[str]) -> MoveResult:
        result = MoveResult()
        wanted = {str(i) for i in ids}
        if not wanted:
            return result
        kept, rest = self._scan(self._matching(wanted), enough=lambda k: len(k) >= len(wanted))
        self._dlq_release(rest)
        pace = RateLimit(settings.DLQ_REPLAY_RATE)
        for start in range(0, len(kept), self.move_chunk):
            chunk = kept[start : start + self.move_chunk]
            pace.wait(len(chunk))
            try:
                sent = self._send_to_main(chunk)
            except QueueError as exc:
                sent = [SendResult(False, str(exc))] * len(chunk)
            moved = [raw for raw, r in zip(chunk, sent, strict=True) if r.ok]
            try:
                self._dlq_delete(moved)
            except QueueError as exc:
                # On the main queue and still in the DLQ: the sender skips the
                # duplicate once the first copy is delivered.
                logger.warning(
                    "Moved messages could not be deleted from the %s: %s", self.dlq_label, exc
                )
            self._dlq_release([raw for raw, r in zip(chunk, sent, strict=True) if not r.ok])
            result.moved.extend(self._dlq_id(raw) for raw in moved)
            result.failed.update(
                {self._dlq_id(raw): r.error for raw, r in zip(chunk, sent, strict=True) if not r.ok}
            )
        for missing in wanted - {self._dlq_id(raw) for raw in kept}:
            result.failed[missing] = f"not in the {self.dlq_label}"
        return result

    def dlq_purge(self, ids: Sequence[str] | None = None) -> int:
        try:
            return self._dlq_purge(ids)
        finally:
            self._dlq_done()

    def _dlq_purge(self, ids: Sequence[str] | None) -> int:
        wanted = None if ids is None else {str(i) for i in ids}
        if wanted is not None and not wanted:
            return 0
        kept, rest = self._scan(
            self._matching(wanted),
            enough=lambda k: wanted is not None and len(k) >= len(wanted),
        )
        self._dlq_release(rest)
        return self._dlq_delete(kept)


def oldest_first(entries: list[DeadLetter]) -> list[DeadLetter]:
    entries.sort(key=lambda e: (e.dead_at or datetime.max.replace(tzinfo=UTC), e.id))
    return entries
