"""The Azure Storage Queue transport (see the package docstring)."""

import base64
import binascii
import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC
from typing import Any
from xml.sax.saxutils import escape

from django.conf import settings

from retry_admin.queues.azure.wire import (
    MAX_MESSAGE_BYTES,
    MAX_PER_CALL,
    MAX_VISIBILITY_SECONDS,
    NEVER_EXPIRE,
    THREADS,
    azure_errors,
    error_code,
    is_gone,
    pack,
    unpack,
)
from retry_admin.queues.base import (
    XML_UNSAFE,
    DeadLetter,
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
    pack_handle,
)
from retry_admin.queues.remote import SCAN_VISIBILITY_SECONDS, RemoteQueue, oldest_first

logger = logging.getLogger(__name__)


class AzureStorageQueue(RemoteQueue):
    dlq_label = "poison queue"
    move_chunk = MAX_PER_CALL
    name = "azure"
    max_send_batch = 64  # no batch API: a list is sent concurrently
    max_receive = MAX_PER_CALL
    max_body_bytes = MAX_MESSAGE_BYTES
    transactional = False

    def __init__(self, *, queue_name: str) -> None:
        self.queue_name = queue_name
        self.poison_name = f"{queue_name}-poison"
        self.encoding = settings.AZURE_QUEUE_ENCODING
        self._connection_string = settings.AZURE_STORAGE_CONNECTION_STRING
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._pool: ThreadPoolExecutor | None = None

    def describe(self) -> str:
        try:
            endpoint = self._queue(self.queue_name).url
        except QueueError:
            endpoint = f"queue {self.queue_name!r} (connection string not usable)"
        return f"Azure Storage Queue {endpoint} (poison queue {self.poison_name!r})"

    # Plumbing

    def _queue(self, name: str):
        with self._lock:
            if name not in self._clients:
                if not self._connection_string:
                    raise QueueError("AZURE_STORAGE_CONNECTION_STRING is not set")
                from azure.storage.queue import LinearRetry, QueueClient

                try:
                    self._clients[name] = QueueClient.from_connection_string(
                        self._connection_string,
                        name,
                        # The SDK's default backs off 15 s and more: callers here
                        # poll again soon anyway, and pages must not hang on it.
                        retry_policy=LinearRetry(backoff=1, retry_total=2, random_jitter_range=0.5),
                        connection_timeout=5,
                        read_timeout=30,
                    )
                except ValueError as exc:
                    raise QueueError(
                        f"AZURE_STORAGE_CONNECTION_STRING is not a valid connection string: {exc}"
                    ) from None
            return self._clients[name]

    def _map(self, function: Callable, items: Sequence) -> list:
        """Run ``function`` over ``items`` on the pool; results in order."""
        if len(items) <= 1:
            return [function(item) for item in items]
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(THREADS, thread_name_prefix="retry-admin-azure")
        return list(self._pool.map(function, items))

    def _encode(self, body: str) -> str:
        if self.encoding == "base64":
            return base64.b64encode(body.encode("utf-8")).decode("ascii")
        return body

    def _decode(self, content: str | None) -> str:
        content = content or ""
        if self.encoding == "base64":
            try:
                return base64.b64decode(content, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return content  # not ours, or written as text: the caller decides
        return content

    def body_problem(self, body: str) -> str | None:
        if self.encoding == "text":
            bad = XML_UNSAFE.search(body)
            if bad:
                return (
                    f"body contains a character XML cannot carry (U+{ord(bad.group()):04X} at "
                    f"position {bad.start()}); use AZURE_QUEUE_ENCODING=base64"
                )
            size = len(escape(body).encode("utf-8"))
        else:
            size = (len(body.encode("utf-8")) + 2) // 3 * 4
        if size > MAX_MESSAGE_BYTES:
            return (
                f"body is {size} bytes after {self.encoding} encoding; Azure Storage Queue "
                f"accepts at most {MAX_MESSAGE_BYTES} bytes"
            )
        return None

    def _put(self, name: str, contents: Sequence[str], delay: int = 0) -> list[SendResult]:
        """Send raw contents concurrently, one result each. Raises
        ``QueueError`` only when none got on the queue."""
        queue = self._queue(name)
        delay = min(max(delay, 0), MAX_VISIBILITY_SECONDS)

        def put(content: str) -> SendResult | QueueError:
            try:
                with azure_errors("send", repr(name)):
                    queue.send_message(content, visibility_timeout=delay, time_to_live=NEVER_EXPIRE)
            except QueueError as exc:
                return exc
            return SendResult(True)

        outcomes = self._map(put, contents)
        errors = [o for o in outcomes if isinstance(o, QueueError)]
        if errors and len(errors) == len(outcomes):
            raise errors[0]
        return [SendResult(False, str(o)) if isinstance(o, QueueError) else o for o in outcomes]

    def _get(self, name: str, count: int, visibility: int) -> list[Any]:
        queue = self._queue(name)
        count = min(count, MAX_PER_CALL)
        with azure_errors("receive", repr(name)):
            return list(
                queue.receive_messages(
                    messages_per_page=count,
                    max_messages=count,
                    visibility_timeout=min(max(visibility, 1), MAX_VISIBILITY_SECONDS),
                )
            )

    def _each(
        self, name: str, action: str, pairs: Sequence[tuple[str, str]], call: Callable
    ) -> list:
        """``call(queue, message_id, pop_receipt)`` for each pair, over the
        pool. Per pair: what it returned, ``None`` when the message is no
        longer ours (deleted, or its receipt changed; it comes back after its
        visibility timeout, and the sender skips a message whose log has an
        outcome), or the ``QueueError``."""
        queue = self._queue(name)

        def one(pair: tuple[str, str]) -> Any:
            from azure.core.exceptions import HttpResponseError

            try:
                with azure_errors(action, repr(name)):
                    try:
                        return call(queue, *pair)
                    except HttpResponseError as exc:
                        if not is_gone(exc):
                            raise
                        logger.warning(
                            "Azure could not %s message %s: %s", action, pair[0], error_code(exc)
                        )
                        return None
            except QueueError as exc:
                return exc

        return self._map(one, pairs)

    def _delete(self, name: str, pairs: Sequence[tuple[str, str]]) -> int:
        """Delete (id, pop receipt) pairs; returns how many were deleted."""
        return self._count(
            self._each(name, "delete", pairs, lambda q, *pair: q.delete_message(*pair) or True)
        )

    def _show(self, name: str, pairs: Sequence[tuple[str, str]], delay: int) -> None:
        """Make received messages visible again after ``delay`` seconds."""
        delay = min(max(delay, 0), MAX_VISIBILITY_SECONDS)
        self._count(
            self._each(
                name,
                "release",
                pairs,
                lambda q, *pair: q.update_message(*pair, visibility_timeout=delay) or True,
            )
        )

    @staticmethod
    def _count(outcomes: list) -> int:
        errors = [o for o in outcomes if isinstance(o, QueueError)]
        if errors:
            raise QueueError(f"{len(errors)} of {len(outcomes)} operations failed: {errors[0]}")
        return sum(1 for o in outcomes if o)

    def _approximate_count(self, name: str) -> int:
        with azure_errors("get properties", repr(name)):
            return self._queue(name).get_queue_properties().approximate_message_count or 0

    # Main queue

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """Azure queues have no priorities: ``priority`` is ignored."""
        results: dict[int, SendResult] = {}
        todo: list[tuple[int, str]] = []
        for index, body in enumerate(bodies):
            problem = self.body_problem(body)
            if problem:
                results[index] = SendResult(False, problem)
            else:
                todo.append((index, self._encode(body)))
        if todo:
            sent = self._put(self.queue_name, [content for _, content in todo], delay_seconds)
            results.update(zip((index for index, _ in todo), sent, strict=True))
        return [results[index] for index in range(len(bodies))]

    def _receive_page(
        self, count: int, *, visibility_timeout: int, first: bool
    ) -> list[ReceivedMessage]:
        """Azure has no long polling: every call answers at once."""
        page = self._get(self.queue_name, count, visibility_timeout)
        return [ReceivedMessage(pack(m), self._decode(m.content), m.dequeue_count) for m in page]

    def ack(self, handles: Sequence[str]) -> None:
        self._delete(self.queue_name, [unpack(h)[:2] for h in handles])

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        self._show(self.queue_name, [unpack(h)[:2] for h in handles], delay_seconds)

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        """Each update gives the message a new pop receipt, so a new handle."""
        seconds = min(max(visibility_timeout, 0), MAX_VISIBILITY_SECONDS)
        unpacked = [unpack(h) for h in handles]
        updated = self._each(
            self.queue_name,
            "extend",
            [(m[0], m[1]) for m in unpacked],
            lambda q, *pair: q.update_message(*pair, visibility_timeout=seconds),
        )
        renewed = {}
        for handle, (message_id, _, content, count), result in zip(
            handles, unpacked, updated, strict=True
        ):
            if isinstance(result, QueueError):
                logger.warning("Azure did not extend message %s: %s", message_id, result)
            elif result is not None:
                renewed[handle] = pack_handle(message_id, result.pop_receipt, content, count)
        return renewed

    def _handle_id(self, handle: str) -> str:
        return unpack(handle)[0]

    def _copy_to_dlq(self, handles: Sequence[str], *, reason: str) -> list[SendResult]:
        """Unchanged: a poison message carries no reason (it is logged, and the
        message log has it)."""
        results = self._put(self.poison_name, [unpack(h)[2] for h in handles])
        logger.info("Moving %d message(s) to %s: %s", len(handles), self.poison_name, reason)
        return results

    def depth(self) -> QueueDepth:
        """Azure reports one approximate count that includes invisible
        messages: it is ``visible`` here, and ``in_flight`` / ``delayed`` are
        0 because Azure does not tell them apart."""
        return QueueDepth(visible=self._approximate_count(self.queue_name), in_flight=0, delayed=0)

    # Poison queue

    def dlq_depth(self) -> int:
        return self._approximate_count(self.poison_name)

    def _dlq_entry(self, message: Any) -> DeadLetter:
        inserted = message.inserted_on
        if inserted is not None and inserted.tzinfo is None:
            inserted = inserted.replace(tzinfo=UTC)
        return DeadLetter(message.id, self._decode(message.content), 0, inserted, "")

    # Primitives of the shared DLQ algorithm (queues/scanning.py)

    def _dlq_receive(self, *, first: bool) -> list[Any]:
        return self._get(self.poison_name, MAX_PER_CALL, SCAN_VISIBILITY_SECONDS)

    def _dlq_id(self, raw: Any) -> str:
        return raw.id

    def _dlq_release(self, raws: Sequence[Any]) -> None:
        self._show(self.poison_name, [(m.id, m.pop_receipt) for m in raws], 0)

    def _dlq_delete(self, raws: Sequence[Any]) -> int:
        return self._delete(self.poison_name, [(m.id, m.pop_receipt) for m in raws])

    def _send_to_main(self, raws: Sequence[Any]) -> list[SendResult]:
        return self._put(self.queue_name, [m.content for m in raws])

    def dlq_peek(self, *, limit: int = 100, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        """Up to 32 messages (Azure's peek limit) are read with a true peek,
        which changes nothing; more, or ids not among the first 32, are read
        by receiving and at once releasing the poison queue's messages."""
        wanted = None if ids is None else set(ids)
        goal = limit if wanted is None else min(limit, len(wanted))
        if goal <= 0:
            return []
        ask = MAX_PER_CALL if wanted is not None else min(goal, MAX_PER_CALL)
        with azure_errors("peek", repr(self.poison_name)):
            peeked = list(self._queue(self.poison_name).peek_messages(max_messages=ask))
        found = [m for m in peeked if wanted is None or m.id in wanted][:goal]
        if len(found) < goal and len(peeked) == ask:
            return super().dlq_peek(limit=limit, ids=ids)
        return oldest_first([self._dlq_entry(m) for m in found])

    def ensure(self) -> None:
        """Create the queue and its poison queue if they do not exist."""
        from azure.core.exceptions import ResourceExistsError

        for name in (self.queue_name, self.poison_name):
            with azure_errors("create", repr(name)), suppress(ResourceExistsError):
                self._queue(name).create_queue()
