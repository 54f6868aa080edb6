"""Handing a chunk's messages to their channels, a window at a time.

At most ``window`` messages (``SENDER_CONCURRENCY``) are ever at a channel or
sent and not yet recorded: ``deliver`` yields each group of finished
deliveries and sends nothing more until the caller has recorded them. A crash
can therefore repeat at most ``window`` sends, each with the same message id
as its idempotency key.
"""

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from retry_admin import policy
from retry_admin.channels import ChannelError, OutgoingMessage, UnknownChannel, get_channel
from retry_admin.models import DeliveryAttempt, MessageLog
from retry_admin.services.templates import template_render

logger = logging.getLogger(__name__)

Outcome = DeliveryAttempt.Outcome


@dataclass
class Delivery:
    log: MessageLog
    handle: str
    receive_count: int
    message: OutgoingMessage | None = None
    channel: str = ""
    outcome: str = Outcome.SENT
    error: str = ""
    duration_ms: float = 0.0

    @property
    def pk(self) -> uuid.UUID:
        return self.log.pk


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _executor(size: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size != size:
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix="retry-admin-send")
            _pool_size = size
        return _pool


def prepare(delivery: Delivery) -> None:
    """Render the message, or mark the delivery permanently failed if it cannot be."""
    log = delivery.log
    batch = log.batch
    if batch is None or batch.template is None:
        delivery.outcome, delivery.error = Outcome.PERMANENT, policy.BATCH_OR_TEMPLATE_GONE
        return
    rendered = template_render(
        body=batch.template.body, context=log.context, recipient=log.recipient
    )
    if rendered.problem:
        delivery.outcome, delivery.error = Outcome.PERMANENT, rendered.problem
        return
    delivery.channel = batch.channel
    delivery.message = OutgoingMessage(
        message_id=log.pk,
        recipient=log.recipient,
        body=rendered.body,
        attempt=log.attempt_count + 1,
        batch_id=batch.pk,
        context=log.context or {},
        template_name=batch.template.name,
        template_body=batch.template.body,
    )


def send_one(channel_name: str, delivery: Delivery) -> Delivery:
    started = time.perf_counter()
    try:
        get_channel(channel_name).send(delivery.message)
    except ChannelError as exc:
        delivery.outcome = Outcome.PERMANENT if exc.permanent else Outcome.TRANSIENT
        delivery.error = str(exc) or exc.__class__.__name__
    except UnknownChannel as exc:
        delivery.outcome, delivery.error = Outcome.PERMANENT, str(exc)
    except Exception as exc:  # a channel bug must not stop the chunk: record it, retry later
        logger.exception("Channel %s raised unexpectedly for %s", channel_name, delivery.pk)
        delivery.outcome = Outcome.TRANSIENT
        delivery.error = f"{exc.__class__.__name__}: {exc}"
    delivery.duration_ms = (time.perf_counter() - started) * 1000
    return delivery


def deliver(deliveries: list[Delivery], *, window: int) -> Iterator[list[Delivery]]:
    """Send ``deliveries`` and yield them in groups as they finish; never more
    than ``window`` unrecorded at once (record each group before asking for
    the next)."""
    window = max(1, window)
    unsendable: list[Delivery] = []
    ready: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        prepare(delivery)
        if delivery.message is None:
            unsendable.append(delivery)
        else:
            ready.setdefault(delivery.channel, []).append(delivery)
    if unsendable:
        yield unsendable
    for channel_name, group in ready.items():
        try:
            concurrent = get_channel(channel_name).concurrent
        except UnknownChannel:
            concurrent = False
        if concurrent and window > 1 and len(group) > 1:
            yield from _deliver_concurrently(channel_name, group, window)
        else:
            for start in range(0, len(group), window):
                part = group[start : start + window]
                for delivery in part:
                    send_one(channel_name, delivery)
                yield part


def _deliver_concurrently(
    channel_name: str, group: list[Delivery], window: int
) -> Iterator[list[Delivery]]:
    pool = _executor(window)
    waiting = iter(group)
    running: set[Future] = set()
    while True:
        for delivery in itertools.islice(waiting, window - len(running)):
            running.add(pool.submit(send_one, channel_name, delivery))
        if not running:
            return
        done, running = wait(running, return_when=FIRST_COMPLETED)
        yield [future.result() for future in done]
