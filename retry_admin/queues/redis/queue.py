"""The Redis transport (see the package docstring)."""

import secrets
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from config.env import url_without_password
from retry_admin.queues.base import (
    DeadLetter,
    MoveResult,
    QueueBackend,
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
)
from retry_admin.queues.redis.scripts import PRELUDE, SCRIPTS

DEFAULT_URL = "redis://127.0.0.1:6379/0"
# The keys of one queue, each under "<REDIS_KEY_PREFIX>:<QUEUE_NAME>:", in the
# order the scripts take them (scripts.PRELUDE).
KEY_NAMES = (
    "ready",  # list of entry ids waiting, oldest at the right
    "inflight",  # sorted set: entry id -> visibility deadline
    "retry",  # sorted set: entry id -> due time (the retry queue)
    "dead",  # sorted set: entry id -> time it was dead-lettered (the DLQ)
    "body",  # hash: entry id -> body
    "receives",  # hash: entry id -> receive count
    "receipt",  # hash: entry id -> receipt of its latest receive
    "retries",  # hash: entry id -> times it entered the retry queue
    "due",  # hash: entry id -> the due time it last had there
    "reason",  # hash: entry id -> why it was dead-lettered
    "keyof",  # hash: retry entry id -> its de-duplication key
    "retrykeys",  # hash: de-duplication key -> the retry entry holding it
    "seq",  # string: the last entry id given out
)
_TYPES = dict.fromkeys(KEY_NAMES, "hash") | {
    "ready": "list",
    "inflight": "zset",
    "retry": "zset",
    "dead": "zset",
    "seq": "string",
}
SEND_CHUNK_BYTES = 8 * 1024 * 1024  # per send script, so no one call blocks Redis for long
CHUNK = 1000  # entries per script call (send, ack, DLQ operations)


def _pairs(handles: Sequence[str]) -> list[str]:
    """``"<id>:<receipt>"`` handles as the scripts' flat id, receipt list."""
    flat: list[str] = []
    for handle in handles:
        entry_id, sep, receipt = str(handle).partition(":")
        if not (sep and entry_id.isdigit() and receipt):
            raise QueueError(f"Not a receipt handle of the Redis queue: {str(handle)[:80]!r}")
        flat += [entry_id, receipt]
    return flat


def _time(ms: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(ms) / 1000, tz=UTC)
    except (TypeError, ValueError):
        return None


def _chunks(items: Sequence, size: int = CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RedisQueue(QueueBackend):
    name = "redis"
    max_send_batch = CHUNK
    max_receive = CHUNK
    max_body_bytes = 256 * 1024

    def __init__(self, *, queue_name: str) -> None:
        self.queue_name = queue_name
        self.url = settings.REDIS_URL or DEFAULT_URL
        self.prefix = f"{settings.REDIS_KEY_PREFIX}:{queue_name}:"
        self.keys = [self.prefix + name for name in KEY_NAMES]
        self._lock = threading.Lock()
        self._client_obj = None
        self._scripts: dict[str, Any] = {}

    def describe(self) -> str:
        return f"Redis {url_without_password(self.url)} (keys {self.prefix}*)"

    # Plumbing

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Redis errors as QueueError, saying what to fix."""
        import redis

        where = url_without_password(self.url)
        try:
            yield
        except redis.AuthenticationError as exc:
            raise QueueError(
                f"Redis at {where} refused the credentials of REDIS_URL ({operation}): {exc}"
            ) from None
        except (redis.ConnectionError, redis.TimeoutError) as exc:
            raise QueueError(f"Redis at {where} is unreachable ({operation}): {exc}") from None
        except redis.ResponseError as exc:
            text = str(exc)
            if "WRONGTYPE" in text:
                raise QueueError(
                    f"A key under {self.prefix!r} on Redis at {where} holds another type of "
                    "value: something else uses these keys; set another REDIS_KEY_PREFIX "
                    f"({operation})"
                ) from None
            if "NOAUTH" in text or "WRONGPASS" in text or "NOPERM" in text:
                raise QueueError(
                    f"Redis at {where} refused the credentials of REDIS_URL ({operation}): {text}"
                ) from None
            raise QueueError(f"Redis at {where} refused {operation}: {text}") from None
        except redis.RedisError as exc:
            raise QueueError(f"Redis at {where} failed {operation}: {exc}") from None

    def close(self) -> None:
        with self._lock:
            client, self._client_obj = self._client_obj, None
        if client is not None:
            client.close()

    def _client(self):
        with self._lock:
            if self._client_obj is None:
                import redis

                with self._errors("connect"):
                    client = redis.Redis.from_url(
                        self.url,
                        decode_responses=True,
                        socket_connect_timeout=5,
                        socket_timeout=30,
                        health_check_interval=30,
                    )
                self._scripts = {
                    name: client.register_script(PRELUDE + source)
                    for name, source in SCRIPTS.items()
                }
                self._client_obj = client
            return self._client_obj

    def _run(self, script: str, args: Sequence[Any]) -> Any:
        client = self._client()
        with self._errors(script):
            return self._scripts[script](keys=self.keys, args=list(args), client=client)

    # Main queue

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """Delay 0: onto the ready list. A delay: onto the retry queue, where a
        body whose de-duplication key already waits there is queued once.
        Priorities are not kept (one list, oldest first)."""
        results: list[SendResult | None] = []
        batch: list[str] = []
        size = 0
        delay_ms = max(0, int(delay_seconds * 1000))

        def flush() -> None:
            nonlocal size
            if batch:
                self._run("send", [delay_ms, *batch])
                batch.clear()
                size = 0

        for body in bodies:
            length = len(body.encode())
            if length > self.max_body_bytes:
                results.append(SendResult(False, f"body exceeds {self.max_body_bytes} bytes"))
                continue
            if len(batch) >= CHUNK or size + length > SEND_CHUNK_BYTES:
                flush()
            batch.append(body)
            size += length
            results.append(SendResult(True))
        flush()
        return results

    def receive(self, max_messages: int, *, visibility_timeout: int) -> list[ReceivedMessage]:
        receipt = secrets.token_hex(8)
        count = max(0, min(max_messages, self.max_receive))
        if not count:
            return []
        flat = self._run("receive", [count, int(visibility_timeout * 1000), receipt])
        return [
            ReceivedMessage(f"{flat[i]}:{receipt}", flat[i + 1], int(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    def ack(self, handles: Sequence[str]) -> None:
        for part in _chunks(_pairs(handles), 2 * CHUNK):
            self._run("ack", part)

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        delay_ms = max(0, int(delay_seconds * 1000))
        for part in _chunks(_pairs(handles), 2 * CHUNK):
            self._run("release", [delay_ms, *part])

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        pairs = _pairs(handles)
        held: dict[str, str] = {}
        for part in _chunks(pairs, 2 * CHUNK):
            kept = set(self._run("extend", [int(visibility_timeout * 1000), *part]))
            for i in range(0, len(part), 2):
                if part[i] in kept:
                    handle = f"{part[i]}:{part[i + 1]}"
                    held[handle] = handle
        return held

    def dead_letter(self, handles: Sequence[str], *, reason: str) -> None:
        for part in _chunks(_pairs(handles), 2 * CHUNK):
            self._run("dead_letter", [reason, *part])

    def depth(self) -> QueueDepth:
        visible, in_flight, delayed = self._run("depth", [])
        return QueueDepth(int(visible), int(in_flight), int(delayed))

    # Dead-letter queue

    def dlq_depth(self) -> int:
        client = self._client()
        with self._errors("dlq_depth"):
            return int(client.zcard(self.prefix + "dead"))

    def dlq_peek(self, *, limit: int = 100, ids: Sequence[str] | None = None) -> list[DeadLetter]:
        if limit <= 0:
            return []
        if ids is None:
            rows = self._run("dlq_peek", [limit, "all"])
        else:
            rows = []
            for part in _chunks(list(dict.fromkeys(map(str, ids)))):
                rows += self._run("dlq_peek", [limit, "ids", *part])
        entries = [self._entry(row) for row in rows]
        entries.sort(key=lambda e: (e.dead_at or datetime.max.replace(tzinfo=UTC), int(e.id)))
        return entries[:limit]

    @staticmethod
    def _entry(row: list) -> DeadLetter:
        entry_id, dead_ms, body, receives, reason, retries, due_ms = row
        dead_at = _time(dead_ms)
        details = {"receives": str(receives), "retry-queue entries": str(retries)}
        if due := _time(due_ms):
            details["last retry due"] = due.isoformat(timespec="milliseconds")
        details["reason"] = reason
        if dead_at:
            details["dead-lettered"] = dead_at.isoformat(timespec="milliseconds")
        return DeadLetter(str(entry_id), body, int(receives), dead_at, reason, details)

    def dlq_move(self, ids: Sequence[str]) -> MoveResult:
        wanted = list(dict.fromkeys(map(str, ids)))
        result = MoveResult()
        for part in _chunks(wanted):
            result.moved += self._run("dlq_move", part)
        for missing in set(wanted) - set(result.moved):
            result.failed[missing] = "not in the dead-letter queue"
        return result

    def dlq_purge(self, ids: Sequence[str] | None = None) -> int:
        if ids is not None:
            return sum(self._run("dlq_purge", part) for part in _chunks(list(map(str, ids))))
        client = self._client()
        purged = 0
        while True:
            with self._errors("dlq_purge"):
                page = client.zrange(self.prefix + "dead", 0, CHUNK - 1)
            if not page:
                return purged
            purged += self._run("dlq_purge", page)

    def ensure(self) -> None:
        """Nothing to create (keys appear with their first entry): check that
        Redis answers and that no key under the prefix holds another type."""
        client = self._client()
        with self._errors("ensure"):
            client.ping()
            pipe = client.pipeline(transaction=False)
            for key in self.keys:
                pipe.type(key)
            types = pipe.execute()
        for name, key, found in zip(KEY_NAMES, self.keys, types, strict=True):
            if found not in ("none", _TYPES[name]):
                raise QueueError(
                    f"Redis key {key!r} is a {found}, not a {_TYPES[name]}: something else "
                    "uses these keys; set another REDIS_KEY_PREFIX"
                )
