"""1. The sender end to end with the ``log`` channel, against a naive loop.

Measured: ``services.sender.sender_drain(until_empty=True)`` over a batch
created and dispatched by ``batch_create``. Baseline, same run: the obvious
one-message-at-a-time ORM loop doing the same work (receive 1, load the log,
render, send, ``.save()``, one ``DeliveryAttempt``, ack).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.test.utils import override_settings
from django.utils import timezone

from bench.harness import (
    Context,
    Result,
    Stopwatch,
    create_dispatched_batch,
    empty_tables,
    expect,
    per_second,
    profiled,
)
from retry_admin.channels import OutgoingMessage, get_channel
from retry_admin.envelope import decode
from retry_admin.models import DeliveryAttempt, MessageLog, Status
from retry_admin.queues import QueueBackend, QueueError, get_backend, reset_backends
from retry_admin.services.sender import sender_drain

NAME = "sender_log"
AIM_RATE = 5_000  # msg/s
AIM_RATIO = 20


def naive_drain(count: int) -> int:
    """The obvious way, a query (or three) per message."""
    backend = get_backend()
    channel = get_channel("log")
    done = 0
    while True:
        received = backend.receive(1, visibility_timeout=60)
        if not received:
            return done
        item = received[0]
        envelope = decode(item.body)
        log = MessageLog.objects.get(pk=envelope.message_id)
        template = log.batch.template
        message = OutgoingMessage(
            message_id=log.pk,
            recipient=log.recipient,
            body=template.render(log.context, log.recipient),
            attempt=log.attempt_count + 1,
            batch_id=log.batch_id,
            context=log.context,
        )
        started = time.perf_counter()
        channel.send(message)
        duration_ms = (time.perf_counter() - started) * 1000
        now = timezone.now()
        log.status = Status.SENT
        log.sent_at = now
        log.updated_at = now
        log.attempt_count += 1
        log.receive_count = item.receive_count
        log.save()
        DeliveryAttempt.objects.create(
            message=log,
            number=log.attempt_count,
            source=log.enqueue_source,
            outcome=DeliveryAttempt.Outcome.SENT,
            duration_ms=duration_ms,
        )
        backend.ack([item.handle])
        done += 1


def run(ctx: Context) -> list[Result]:
    return [measure(ctx, NAME)]


def measure(
    ctx: Context, name: str, *, aim_rate: int = AIM_RATE, aim_ratio: float | None = AIM_RATIO
) -> Result:
    """Time the naive loop and ``sender_drain`` over the configured queue
    (``aim_ratio=None``: the aim is the rate alone)."""
    size = ctx.size(20_000)
    naive_size = ctx.size(2_000)

    empty_tables()
    create_dispatched_batch(naive_size, channel="log")
    with Stopwatch() as naive:
        done = naive_drain(naive_size)
    expect(done, naive_size, "naive loop deliveries")
    expect(MessageLog.objects.filter(status=Status.SENT).count(), naive_size, "naive sent")
    naive_rate = per_second(naive_size, naive.seconds)

    empty_tables()
    create_dispatched_batch(size, channel="log")
    with profiled(ctx, name), Stopwatch() as sw:
        report = sender_drain(until_empty=True)
    expect(report.sent, size, "sender_drain sent")
    expect(MessageLog.objects.filter(status=Status.SENT).count(), size, "logs sent")
    expect(DeliveryAttempt.objects.count(), size, "delivery attempts")
    expect(get_backend().depth().total, 0, "queue entries left")
    rate = per_second(size, sw.seconds)
    empty_tables()

    ratio = rate / naive_rate
    return Result(
        name,
        rate,
        "msg/s",
        baseline=naive_rate,
        ratio=ratio,
        aim=f">= {aim_rate:,} msg/s" + (f", >= {aim_ratio}x" if aim_ratio else ""),
        details={
            "messages": size,
            "seconds": sw.seconds,
            "chunks": report.chunks,
            "baseline_messages": naive_size,
            "baseline_seconds": naive.seconds,
            "queue": get_backend().describe(),
        },
    ).judge(lambda figure, ratio: figure >= aim_rate and (not aim_ratio or ratio >= aim_ratio))


@contextmanager
def on_transport(
    service: str, drop: Callable[[QueueBackend], None], **overrides: object
) -> Iterator[None]:
    """Point the queue at a transport under throwaway names (``overrides``)
    for a benchmark; ``drop`` deletes what it made, whatever happened."""
    with override_settings(**overrides):
        reset_backends()
        backend = get_backend()
        try:
            backend.ensure()
        except QueueError as exc:
            raise RuntimeError(f"{exc} (bash scripts/services.sh {service} starts one)") from None
        try:
            yield
        finally:
            drop(backend)
            reset_backends()
