"""RabbitMQ's wire rules: one blocking connection per thread (pika's
``BlockingConnection`` is not thread-safe), errors that say what to fix, and
the headers this transport reads and writes."""

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from retry_admin.queues.base import QueueError

logger = logging.getLogger(__name__)

RETRIES = "x-retries"  # how many times the retry processor has sent it round
REQUESTED_DELAY = "x-requested-delay-ms"  # a release's own delay
ORIGINAL_KEY = "x-original-routing-key"
PARKED_REASON = "x-parked-reason"
PARKED_AT = "x-parked-at"
# Which wait queue a delayed message goes through. Not "x-" prefixed: a
# headers exchange ignores x- headers when matching.
WAIT = "retry-admin-wait-ms"
DELIVERY_COUNT = "x-delivery-count"  # set by quorum queues on every redelivery


@contextmanager
def amqp_errors(action: str, where: str, *, on_broken: Callable[[], None]) -> Iterator[None]:
    """Turn what pika raises into a ``QueueError``; a broken connection or
    channel is dropped (``on_broken``) so the next call opens a new one."""
    from pika import exceptions as pe

    try:
        yield
    except pe.ProbableAuthenticationError as exc:
        on_broken()
        raise QueueError(f"RabbitMQ refused the credentials in RABBITMQ_URL: {exc}") from exc
    except pe.AMQPConnectionError as exc:
        on_broken()
        raise QueueError(f"RabbitMQ unreachable for {action} on {where}: {exc!r}") from exc
    except pe.ChannelClosedByBroker as exc:
        on_broken()
        if exc.reply_code == 404:
            text = f"RabbitMQ has no {where} (run `manage.py setup_retry_admin`): {exc.reply_text}"
        elif exc.reply_code == 406:
            text = (
                f"RabbitMQ's {where} exists with other arguments than this backend declares "
                f"(RABBITMQ_QUEUE_TYPE?): {exc.reply_text}"
            )
        else:
            text = f"RabbitMQ closed the channel on {action} ({where}): {exc.reply_text}"
        raise QueueError(text) from exc
    except (pe.AMQPChannelError, pe.StreamLostError, pe.ConnectionClosed) as exc:
        on_broken()
        raise QueueError(f"RabbitMQ {action} on {where} failed: {exc!r}") from exc
    except (pe.UnroutableError, pe.NackError) as exc:
        raise QueueError(f"RabbitMQ did not accept {action} on {where}: {exc!r}") from exc


class Connections:
    """One connection and confirm-mode channel per thread, opened on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    @property
    def generation(self) -> str:
        """Changes with every new connection: delivery tags of an older one
        mean nothing (its messages went back to the queue when it closed)."""
        return getattr(self._local, "generation", "")

    def channel(self) -> Any:
        channel = getattr(self._local, "channel", None)
        if channel is not None and channel.is_open:
            return channel
        import pika

        self.drop()
        parameters = pika.URLParameters(self.url)
        parameters.heartbeat = 60
        parameters.blocked_connection_timeout = 30
        connection = pika.BlockingConnection(parameters)
        channel = connection.channel()
        channel.confirm_delivery()
        self._local.connection, self._local.channel = connection, channel
        self._local.generation = uuid.uuid4().hex[:12]
        self._local.state = {}
        return channel

    def state(self) -> dict:
        """Per-connection scratch space (the consumer's buffer)."""
        self.channel()
        return self._local.state

    def drop(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = self._local.channel = None
        self._local.state = {}
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except Exception:  # already broken: nothing to close cleanly
                logger.debug("closing a broken RabbitMQ connection", exc_info=True)


def plain(value: Any) -> Any:
    """A header value as JSON can carry it (x-death holds datetimes and bytes)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.replace(tzinfo=value.tzinfo or UTC).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def death_summary(headers: dict) -> str:
    """x-death as a person reads it: "rejected 3 times from jobs (exchange main)"."""
    parts = []
    for death in headers.get("x-death") or []:
        death = plain(death)
        reason, count = death.get("reason", "?"), death.get("count", 1)
        parts.append(
            f"{reason} {count} times from {death.get('queue', '?')}"
            f" (exchange {death.get('exchange') or 'default'})"
        )
    return "; ".join(parts)


def original_routing_key(headers: dict, fallback: str) -> str:
    """Where the message was first published: our own header, else the
    first x-death entry's routing key (a message rejected by any consumer)."""
    if headers.get(ORIGINAL_KEY):
        return plain(headers[ORIGINAL_KEY])
    for death in headers.get("x-death") or []:
        keys = plain(death).get("routing-keys") or []
        if keys:
            return keys[0]
    return fallback
