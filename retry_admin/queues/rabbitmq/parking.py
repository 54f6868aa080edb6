"""RabbitMQ's parking queue (the DLQ): the primitives of the DLQ algorithm
in ``queues/remote.py``, over ``basic_get`` and ack / nack-requeue."""

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from retry_admin.queues.base import DeadLetter, SendResult
from retry_admin.queues.rabbitmq.wire import (
    ORIGINAL_KEY,
    PARKED_AT,
    PARKED_REASON,
    RETRIES,
    death_summary,
    original_routing_key,
    plain,
)


class ParkingQueue:
    """Mixed into ``RabbitMQQueue``, whose channel, counts and publishing it uses."""

    def dlq_depth(self) -> int:
        return self._count(self.parking_queue)

    def _scan_channel(self) -> Any:
        """A channel of its own for a DLQ operation: closing it when the
        operation ends puts back whatever it still holds, and RabbitMQ counts
        those again before it answers the close (a requeue by nack is
        counted a moment later)."""
        state = self._connections.state()
        if state.get("scan") is None or not state["scan"].is_open:
            with self._amqp("open", f"parking queue {self.parking_queue!r}"):
                state["scan"] = self._connections.channel().connection.channel()
        return state["scan"]

    def _dlq_done(self) -> None:
        scan = self._connections.state().pop("scan", None)
        if scan is not None and scan.is_open:
            with self._amqp("close", f"parking queue {self.parking_queue!r}"):
                scan.close()

    def _dlq_receive(self, *, first: bool) -> list[Any]:
        page = []
        with self._amqp("get", f"parking queue {self.parking_queue!r}"):
            channel = self._scan_channel()
            for _ in range(100):
                method, properties, body = channel.basic_get(self.parking_queue)
                if method is None:
                    break
                page.append((method, properties, body))
        return page

    def _dlq_id(self, raw: Any) -> str:
        return raw[1].message_id or f"tag-{raw[0].delivery_tag}"

    def _dlq_release(self, raws: Sequence[Any]) -> None:
        with self._amqp("requeue", f"parking queue {self.parking_queue!r}"):
            for method, _, _ in raws:
                self._scan_channel().basic_nack(method.delivery_tag, requeue=True)

    def _dlq_delete(self, raws: Sequence[Any]) -> int:
        with self._amqp("ack", f"parking queue {self.parking_queue!r}"):
            for method, _, _ in raws:
                self._scan_channel().basic_ack(method.delivery_tag)
        return len(raws)

    def _send_to_main(self, raws: Sequence[Any]) -> list[SendResult]:
        """Back to the original exchange and routing key, as a fresh message."""
        results = []
        for _, properties, body in raws:
            headers = dict(properties.headers or {})
            key = original_routing_key(headers, self.routing_key)
            fresh = {RETRIES: 0, ORIGINAL_KEY: key}
            message_id = properties.message_id or uuid.uuid4().hex
            results.append(self._publish(self.exchange, key, body, fresh, message_id))
        return results

    def _dlq_entry(self, raw: Any) -> DeadLetter:
        _, properties, body = raw
        headers = plain(dict(properties.headers or {}))
        retries = int(headers.get(RETRIES) or 0)
        try:
            dead_at = datetime.fromisoformat(headers[PARKED_AT])
        except (KeyError, TypeError, ValueError):
            dead_at = None
        details = {"x-retries": str(retries)}
        if headers.get("x-death"):
            details["x-death"] = death_summary(headers)
        details["routing key"] = original_routing_key(headers, self.routing_key)
        return DeadLetter(
            self._dlq_id(raw),
            body.decode("utf-8", "replace"),
            retries + 1,
            dead_at,
            headers.get(PARKED_REASON) or death_summary(headers) or "Parked",
            details,
        )
