"""Handing a chunk's messages to their channels, a window at a time.

At most ``window`` messages (``SENDER_CONCURRENCY``) are ever at a channel or
sent and not yet recorded, or ``inline_window`` (the chunk,
``SENDER_BATCH_SIZE``) for a channel that sends in-process
(``concurrent = False``, such as ``log``): ``deliver`` yields each group of
finished deliveries and sends nothing more until the caller has recorded them.
A crash can therefore repeat at most one window of sends, each with the same
message id as its idempotency key.
"""

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import NamedTuple

from retry_admin import policy
from retry_admin.channels import Channel, ChannelError, OutgoingMessage, UnknownChannel, get_channel
from retry_admin.models import DeliveryAttempt
from retry_admin.services.templates import template_render

logger = logging.getLogger(__name__)

Outcome = DeliveryAttempt.Outcome


class BatchInfo(NamedTuple):
    """What delivering needs of a message's batch (``template_body`` is
    ``None`` when the template is gone)."""

    channel: str
    template_name: str | None
    template_body: str | None


@dataclass(slots=True)
class Delivery:
    """One leased message of a chunk: the columns of its log that delivering
    reads, as plain values (building a model instance per message cost more
    than sending it on the ``log`` channel)."""

    pk: uuid.UUID
    db_id: object  # the id as the database returns it and takes it back (hex text on SQLite)
    handle: str
    receive_count: int
    batch_id: int | None
    recipient: str
    context: object
    retry_count: int
    attempt_count: int
    enqueue_source: str
    message: OutgoingMessage | None = None
    channel: str = ""
    outcome: str = Outcome.SENT.value
    error: str = ""
    duration_ms: float = 0.0


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


def prepare(delivery: Delivery, batch: BatchInfo | None) -> None:
    """Render the message, or mark the delivery permanently failed if it cannot be."""
    if batch is None or batch.template_body is None:
        delivery.outcome, delivery.error = Outcome.PERMANENT, policy.BATCH_OR_TEMPLATE_GONE
        return
    context = delivery.context
    rendered = template_render(
        body=batch.template_body, context=context, recipient=delivery.recipient
    )
    if rendered.problem:
        delivery.outcome, delivery.error = Outcome.PERMANENT, rendered.problem
        return
    delivery.channel = batch.channel
    delivery.message = OutgoingMessage(
        delivery.pk,
        delivery.recipient,
        rendered.body,
        delivery.attempt_count + 1,
        delivery.batch_id,
        context or {},
        batch.template_name or "",
        batch.template_body,
    )


def send_one(channel: Channel, delivery: Delivery) -> Delivery:
    started = time.perf_counter()
    try:
        channel.send(delivery.message)
    except ChannelError as exc:
        delivery.outcome = Outcome.PERMANENT if exc.permanent else Outcome.TRANSIENT
        delivery.error = str(exc) or exc.__class__.__name__
    except Exception as exc:  # a channel bug must not stop the chunk: record it, retry later
        logger.exception("Channel %s raised unexpectedly for %s", channel.name, delivery.pk)
        delivery.outcome = Outcome.TRANSIENT
        delivery.error = f"{exc.__class__.__name__}: {exc}"
    delivery.duration_ms = (time.perf_counter() - started) * 1000
    return delivery


def deliver(
    deliveries: list[Delivery],
    batches: dict[int, BatchInfo],
    *,
    window: int,
    inline_window: int,
) -> Iterator[list[Delivery]]:
    """Send ``deliveries`` and yield them in groups as they finish; never more
    than ``window`` unrecorded at once, or ``inline_window`` for a channel that
    sends in-process (record each group before asking for the next).
    ``batches``: the chunk's batches by id."""
    window, inline_window = max(1, window), max(1, inline_window)
    unsendable: list[Delivery] = []
    ready: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        prepare(delivery, batches.get(delivery.batch_id))
        if delivery.message is None:
            unsendable.append(delivery)
        else:
            ready.setdefault(delivery.channel, []).append(delivery)
    if unsendable:
        yield unsendable
    for channel_name, group in ready.items():
        try:
            channel = get_channel(channel_name)
        except UnknownChannel as exc:
            for delivery in group:
                delivery.outcome, delivery.error = Outcome.PERMANENT, str(exc)
            yield group
            continue
        if channel.concurrent and window > 1 and len(group) > 1:
            yield from _deliver_concurrently(channel, group, window)
        else:
            # A channel that returns in microseconds (``concurrent = False``)
            # is recorded in bigger groups: a transaction per 32 lines of the
            # delivery log cost more than writing them.
            size = window if channel.concurrent else inline_window
            for start in range(0, len(group), size):
                part = group[start : start + size]
                for delivery in part:
                    send_one(channel, delivery)
                channel.flush()
                yield part


def _deliver_concurrently(
    channel: Channel, group: list[Delivery], window: int
) -> Iterator[list[Delivery]]:
    pool = _executor(window)
    waiting = iter(group)
    running: set[Future] = set()
    while True:
        for delivery in itertools.islice(waiting, window - len(running)):
            running.add(pool.submit(_send_and_flush, channel, delivery))
        if not running:
            return
        done, running = wait(running, return_when=FIRST_COMPLETED)
        yield [future.result() for future in done]


def _send_and_flush(channel: Channel, delivery: Delivery) -> Delivery:
    send_one(channel, delivery)
    channel.flush()  # in the thread that sent: a pool thread sends one message at a time
    return delivery
