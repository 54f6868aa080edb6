"""RabbitMQ's retry processor: the one place that decides when a message
that failed or was given back comes round again, and when it is parked."""

import uuid
from datetime import UTC, datetime

from django.conf import settings

from retry_admin import policy
from retry_admin.queues.rabbitmq.wire import (
    DELIVERY_COUNT,
    ORIGINAL_KEY,
    PARKED_AT,
    PARKED_REASON,
    REQUESTED_DELAY,
    RETRIES,
    logger,
    original_routing_key,
)

RETRIES_PER_RECEIVE = 1000  # retry-queue messages the processor handles per receive


class RetryProcessor:
    """Mixed into ``RabbitMQQueue``, whose channel and publishing it uses."""

    def _backoff_ms(self, retries: int) -> int:
        base = settings.RABBITMQ_RETRY_DELAY_SECONDS * 1000
        return int(base * 2 ** (retries - 1) if policy.per_message_backoff() else base)

    def process_retries(self, limit: int = RETRIES_PER_RECEIVE) -> int:
        """Take messages off the retry queue (released by a sender, or rejected
        by any consumer into the dead-letter exchange), count the retry in
        ``x-retries``, and send each back to its original routing key after
        its delay, or park it past ``QUEUE_MAX_RECEIVES``. Never a hot requeue."""
        handled = 0
        channel = self._channel()
        for _ in range(limit):
            with self._amqp("get", f"retry queue {self.retry_queue!r}"):
                method, properties, body = channel.basic_get(self.retry_queue)
            if method is None:
                break
            headers = dict(properties.headers or {})
            retries = int(headers.get(RETRIES) or 0) + 1
            key = original_routing_key(headers, self.routing_key)
            requested = headers.pop(REQUESTED_DELAY, None)
            headers.pop(DELIVERY_COUNT, None)
            headers.update({RETRIES: retries, ORIGINAL_KEY: key})
            message_id = properties.message_id or uuid.uuid4().hex
            if retries > settings.QUEUE_MAX_RECEIVES:
                headers[PARKED_REASON] = f"reached max retries of {settings.QUEUE_MAX_RECEIVES}"
                headers[PARKED_AT] = datetime.now(UTC).isoformat()
                result = self._publish("", self.parking_queue, body, headers, message_id)
            else:
                delay = int(requested) if requested is not None else self._backoff_ms(retries)
                result = self._publish_after(delay, body, headers, key, message_id)
            with self._amqp("settle", f"retry queue {self.retry_queue!r}"):
                if result.ok:
                    channel.basic_ack(method.delivery_tag)
                else:
                    channel.basic_nack(method.delivery_tag, requeue=True)
                    logger.error("Retry processor could not republish: %s", result.error)
                    break
            handled += 1
        return handled
