"""The RabbitMQ transport (see the package docstring)."""

import threading
import time
import uuid
from collections import deque
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from retry_admin.queues.base import (
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
    pack_handle,
    unpack_handle,
)
from retry_admin.queues.rabbitmq.parking import ParkingQueue
from retry_admin.queues.rabbitmq.retrying import RetryProcessor
from retry_admin.queues.rabbitmq.wire import (
    DELIVERY_COUNT,
    ORIGINAL_KEY,
    PARKED_AT,
    PARKED_REASON,
    REQUESTED_DELAY,
    RETRIES,
    WAIT,
    Connections,
    amqp_errors,
    logger,
    plain,
)
from retry_admin.queues.remote import RemoteQueue

DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
WAIT_QUEUE_IDLE_MS = 3600 * 1000  # an unused wait queue deletes itself after this


class RabbitMQQueue(RetryProcessor, ParkingQueue, RemoteQueue):
    name = "rabbitmq"
    max_send_batch = 500
    max_body_bytes = 256 * 1024
    transactional = False
    # The retry processor parks a message past its maximum by itself, so a
    # log may still say pending: services.dlq.dlq_reconcile catches up.
    redrives = True
    dlq_label = "parking queue"
    move_chunk = 100

    def __init__(self, *, queue_name: str) -> None:
        self.queue_name = queue_name
        self.exchange = settings.RABBITMQ_EXCHANGE
        self.routing_key = settings.RABBITMQ_ROUTING_KEY or queue_name
        self.binding_key = settings.RABBITMQ_BINDING_KEY or self.routing_key
        self.retry_exchange = settings.RABBITMQ_RETRY_EXCHANGE or f"{self.exchange}.retry"
        self.wait_exchange = f"{self.exchange}.wait"
        self.retry_queue = settings.RABBITMQ_RETRY_QUEUE or f"{queue_name}.retry"
        self.parking_queue = settings.RABBITMQ_PARKING_QUEUE or f"{queue_name}.parking"
        self.quorum = settings.RABBITMQ_QUEUE_TYPE == "quorum"
        self.max_receive = settings.RABBITMQ_PREFETCH
        self.url = settings.RABBITMQ_URL or DEFAULT_URL
        self._connections = Connections(self.url)
        self._waits: set[int] = set()  # wait queues this process declared
        # Deliveries handed out and not settled, (connection, delivery tag) ->
        # when they go back unless acked, released or extended. Shared by the
        # threads of a sender: its lease keeper extends from its own thread.
        self._held: dict[tuple[str, int], float] = {}
        self._held_lock = threading.Lock()
        self._consumer = threading.local()  # the connection each thread consumes on

    def describe(self) -> str:
        parts = urlsplit(self.url)
        vhost = (parts.path or "/%2F").replace("%2F", "/")
        return (
            f"RabbitMQ {parts.hostname}:{parts.port or 5672}{vhost} exchange {self.exchange!r}, "
            f"queue {self.queue_name!r}"
        )

    def close(self) -> None:
        """This thread's connection: its consumer's unacked messages go back
        to the queue (pika connections cannot be closed from another thread)."""
        self._connections.drop()

    def _amqp(self, action: str, where: str):
        return amqp_errors(action, where, on_broken=self._connections.drop)

    def _channel(self) -> Any:
        with self._amqp("connect", self.describe()):
            return self._connections.channel()

    # Publishing, always with a publisher confirm

    def _publish(
        self, exchange: str, routing_key: str, body: str | bytes, headers: dict, message_id: str
    ) -> SendResult:
        import pika
        from pika import exceptions as pe

        properties = pika.BasicProperties(
            delivery_mode=pika.DeliveryMode.Persistent, message_id=message_id, headers=headers
        )
        payload = body.encode("utf-8") if isinstance(body, str) else body
        with self._amqp("publish", f"exchange {exchange or '(default)'!r}"):
            try:
                self._channel().basic_publish(
                    exchange, routing_key, payload, properties, mandatory=True
                )
            except (pe.UnroutableError, pe.NackError) as exc:
                return SendResult(False, f"RabbitMQ did not take it: {exc!r}")
        return SendResult(True)

    def _publish_after(
        self, delay_ms: int, body: str | bytes, headers: dict, key: str, message_id: str
    ) -> SendResult:
        """On the main exchange now, or through the wait queue of ``delay_ms``
        (its TTL dead-letters it back to the main exchange under ``key``)."""
        if delay_ms <= 0:
            return self._publish(self.exchange, key, body, headers, message_id)
        delay_ms = max(100, round(delay_ms, -2))
        self._declare_wait(delay_ms)
        return self._publish(
            self.wait_exchange, key, body, {**headers, WAIT: str(delay_ms)}, message_id
        )

    def _declare_wait(self, delay_ms: int) -> None:
        if delay_ms in self._waits:
            return
        name = f"{self.queue_name}.wait.{delay_ms}ms"
        with self._amqp("declare", f"wait queue {name!r}"):
            channel = self._channel()
            channel.queue_declare(
                name,
                durable=True,
                arguments={
                    "x-message-ttl": delay_ms,
                    "x-dead-letter-exchange": self.exchange,
                    "x-expires": delay_ms + WAIT_QUEUE_IDLE_MS,
                },
            )
            channel.queue_bind(
                name, self.wait_exchange, arguments={"x-match": "all", WAIT: str(delay_ms)}
            )
        self._waits.add(delay_ms)

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """One confirmed publish per body. RabbitMQ queues here have no
        priorities: ``priority`` is ignored."""
        results = []
        for body in bodies:
            size = len(body.encode("utf-8"))
            if size > self.max_body_bytes:
                results.append(SendResult(False, f"body exceeds {self.max_body_bytes} bytes"))
                continue
            headers = {RETRIES: 0, ORIGINAL_KEY: self.routing_key}
            results.append(
                self._publish_after(
                    delay_seconds * 1000, body, headers, self.routing_key, uuid.uuid4().hex
                )
            )
        return results

    # Receiving: a consumer with a prefetch, and visibility kept by this process

    def _state(self) -> dict:
        """This thread's consumer and the messages delivered to it but not
        handed out yet (``buffer``)."""
        state = self._connections.state()
        if "buffer" not in state:
            buffer: deque = deque()
            with self._amqp("consume", f"queue {self.queue_name!r}"):
                channel = self._connections.channel()
                channel.basic_qos(prefetch_count=settings.RABBITMQ_PREFETCH)
                channel.basic_consume(self.queue_name, lambda _c, m, p, b: buffer.append((m, p, b)))
            state["buffer"] = buffer
            previous = getattr(self._consumer, "generation", None)
            if previous:  # a new connection: the old one's deliveries went back
                with self._held_lock:
                    self._held = {k: v for k, v in self._held.items() if k[0] != previous}
            self._consumer.generation = self._connections.generation
        return state

    def _expire_held(self) -> None:
        """RabbitMQ keeps an unacked message with its consumer until the
        connection closes (a crashed worker's come back at once). A live one
        that let the visibility timeout pass gives it back, counted."""
        generation, now = self._connections.generation, time.monotonic()
        with self._held_lock:
            expired = [
                key
                for key, deadline in self._held.items()
                if key[0] == generation and deadline <= now
            ]
            for key in expired:
                del self._held[key]
        with self._amqp("requeue", f"queue {self.queue_name!r}"):
            for _, tag in expired:
                self._connections.channel().basic_nack(tag, requeue=True)

    def _receive_page(
        self, count: int, *, visibility_timeout: int, first: bool
    ) -> list[ReceivedMessage]:
        state = self._state()
        if first:
            self._expire_held()
            try:
                self.process_retries()
            except QueueError as exc:  # the main queue may still work: report, go on
                logger.error("RabbitMQ retry processor failed: %s", exc)
                state = self._state()
        buffer = state["buffer"]
        with self._amqp("receive", f"queue {self.queue_name!r}"):
            connection = self._connections.channel().connection
            connection.process_data_events(time_limit=0)
            if not buffer and first:
                connection.process_data_events(time_limit=0.05)
        deadline = time.monotonic() + visibility_timeout
        page = [buffer.popleft() for _ in range(min(count, len(buffer)))]
        generation = self._connections.generation
        with self._held_lock:
            for method, _, _ in page:
                self._held[(generation, method.delivery_tag)] = deadline
        return [self._received(*delivery) for delivery in page]

    def _received(self, method: Any, properties: Any, body: bytes) -> ReceivedMessage:
        headers = plain(dict(properties.headers or {}))
        retries = int(headers.get(RETRIES) or 0)
        if self.quorum:
            redeliveries = int((properties.headers or {}).get(DELIVERY_COUNT) or 0)
        else:
            redeliveries = int(method.redelivered)
        headers.pop(DELIVERY_COUNT, None)
        text = body.decode("utf-8", "replace")
        handle = pack_handle(
            self._connections.generation,
            method.delivery_tag,
            properties.message_id or uuid.uuid4().hex,
            text,
            method.routing_key,
            headers,
        )
        return ReceivedMessage(handle, text, 1 + retries + redeliveries)

    def _held_here(self, handles: Sequence[str]) -> list[tuple[str, list]]:
        """(handle, fields) of the handles this thread's connection still
        holds unsettled; others went back to the queue with their connection."""
        generation = self._connections.generation
        out = []
        with self._held_lock:
            for handle in handles:
                fields = unpack_handle(handle, 6, transport="RabbitMQ queue")
                if fields[0] == generation and (fields[0], fields[1]) in self._held:
                    out.append((handle, fields))
        return out

    def ack(self, handles: Sequence[str]) -> None:
        """One ``multiple`` frame when no other unacked delivery of this
        channel has a lower tag than the highest acked (a sender acking in
        order): messages still in the consumer's buffer came later, and the
        retry processor settles its own at once."""
        generation = self._connections.generation
        tags = sorted(fields[1] for _, fields in self._held_here(handles))
        if not tags:
            return
        with self._held_lock:
            others = {t for g, t in self._held if g == generation} - set(tags)
        with self._amqp("ack", f"queue {self.queue_name!r}"):
            channel = self._connections.channel()
            if all(tag > tags[-1] for tag in others):
                channel.basic_ack(tags[-1], multiple=True)
            else:
                for tag in tags:
                    channel.basic_ack(tag)
        with self._held_lock:
            for tag in tags:
                self._held.pop((generation, tag), None)

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        """Through the retry queue (copy confirmed, then ack), never a hot
        requeue: the retry processor sends it back after ``delay_seconds``."""
        for handle, (_, _, message_id, body, key, headers) in self._held_here(handles):
            headers = {**headers, REQUESTED_DELAY: delay_seconds * 1000, ORIGINAL_KEY: key}
            result = self._publish("", self.retry_queue, body, headers, message_id)
            if not result.ok:
                raise QueueError(f"Could not release {message_id}: {result.error}")
            self.ack([handle])

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        """Moves deadlines only: the lease keeper calls it from a thread of its
        own, which must not open a connection (nor a consumer) of its own."""
        deadline = time.monotonic() + visibility_timeout
        kept = {}
        with self._held_lock:
            for handle in handles:
                fields = unpack_handle(handle, 6, transport="RabbitMQ queue")
                if (fields[0], fields[1]) in self._held:
                    self._held[(fields[0], fields[1])] = deadline
                    kept[handle] = handle
        return kept

    def _handle_id(self, handle: str) -> str:
        return unpack_handle(handle, 6, transport="RabbitMQ queue")[2]

    def _copy_to_dlq(self, handles: Sequence[str], *, reason: str) -> list[SendResult]:
        results = []
        for handle in handles:
            _, _, message_id, body, key, headers = unpack_handle(
                handle, 6, transport="RabbitMQ queue"
            )
            headers = {
                **headers,
                ORIGINAL_KEY: key,
                PARKED_REASON: reason[:1000] or "-",
                PARKED_AT: datetime.now(UTC).isoformat(),
            }
            results.append(self._publish("", self.parking_queue, body, headers, message_id))
        return results

    # Depth

    def _count(self, queue: str) -> int:
        with self._amqp("count", f"queue {queue!r}"):
            return self._channel().queue_declare(queue, passive=True).method.message_count

    def depth(self) -> QueueDepth:
        """RabbitMQ's AMQP API counts only ready messages: ``in_flight`` is
        what this process holds, and what it has prefetched counts as
        visible; ``delayed`` is the retry queue and this process's wait queues."""
        state = self._connections.state()
        delayed = self._count(self.retry_queue)
        for delay_ms in list(self._waits):
            try:
                delayed += self._count(f"{self.queue_name}.wait.{delay_ms}ms")
            except QueueError:  # expired after an idle hour
                self._waits.discard(delay_ms)
        ready = self._count(self.queue_name)
        buffer = state.get("buffer")
        if buffer is not None:
            # The count's answer came after every delivery the broker had
            # already pushed to this channel's consumer: hand those to the
            # buffer, or they would be counted nowhere.
            with self._amqp("receive", f"queue {self.queue_name!r}"):
                self._connections.channel().connection.process_data_events(time_limit=0)
        return QueueDepth(
            visible=ready + len(buffer or ()),
            in_flight=len(self._held),
            delayed=delayed,
        )

    def ensure(self) -> None:
        """Declare the topology, all durable: the main topic exchange and the
        work queue bound to it (dead-lettering to the retry exchange), the
        retry exchange and queue (bound with ``#``), the wait exchange the
        delay queues hang off, and the parking queue."""
        arguments = {"x-dead-letter-exchange": self.retry_exchange}
        if self.quorum:
            arguments["x-queue-type"] = "quorum"
        with self._amqp("declare", f"topology of {self.queue_name!r}"):
            channel = self._channel()
            channel.exchange_declare(self.exchange, "topic", durable=True)
            channel.exchange_declare(self.retry_exchange, "topic", durable=True)
            channel.exchange_declare(self.wait_exchange, "headers", durable=True)
            channel.queue_declare(self.queue_name, durable=True, arguments=arguments)
            channel.queue_bind(self.queue_name, self.exchange, routing_key=self.binding_key)
            channel.queue_declare(self.retry_queue, durable=True)
            channel.queue_bind(self.retry_queue, self.retry_exchange, routing_key="#")
            channel.queue_declare(self.parking_queue, durable=True)

    def drop_topology(self) -> None:
        """Delete every queue and exchange ``ensure`` and the wait queues
        declared: for throwaway topologies (tests, benchmarks), never a live one."""
        self._connections.drop()
        queues = [self.queue_name, self.retry_queue, self.parking_queue]
        queues += [f"{self.queue_name}.wait.{ms}ms" for ms in self._waits]
        with self._amqp("delete", f"topology of {self.queue_name!r}"):
            channel = self._connections.channel()
            for queue in queues:
                channel.queue_delete(queue)
            for exchange in (self.exchange, self.retry_exchange, self.wait_exchange):
                channel.exchange_delete(exchange)
        self._connections.drop()
