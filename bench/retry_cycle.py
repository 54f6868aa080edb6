"""3. One retry cycle over 100,000 eligible failures, against a naive loop.

Measured: ``services.retry.retry_cycle_run(trigger="command")`` (sweep, claim
chunk by chunk, regenerate, enqueue). Baseline, same run: select the eligible
logs and, for each, ``.save()`` it as pending and ``backend.send`` one body.
"""

from django.test import override_settings
from django.utils import timezone

from bench.harness import (
    Context,
    Result,
    Stopwatch,
    create_dispatched_batch,
    empty_tables,
    expect,
    make_eligible_failures,
    per_second,
    profiled,
)
from retry_admin.envelope import Envelope
from retry_admin.models import MessageLog, QueueMessage, Source, Status
from retry_admin.queues import get_backend
from retry_admin.services.retry import retry_cycle_run

NAME = "retry_cycle"
AIM_RATE = 10_000  # msg/s


def naive_retry() -> int:
    """The obvious way: one save and one send per eligible message."""
    backend = get_backend()
    now = timezone.now()
    done = 0
    eligible = MessageLog.objects.eligible_for_retry(now).select_related("batch")
    for log in eligible:
        log.status = Status.PENDING
        log.retry_count += 1
        log.enqueue_source = Source.RETRY
        log.next_retry_at = None
        log.updated_at = now
        log.enqueued_at = now
        log.save()
        body = Envelope(
            log.pk, log.batch_id, log.recipient, log.batch.template_id, log.attempt_count + 1
        ).encode()
        backend.send([body], priority=log.batch.priority)
        done += 1
    return done


def _failures(count: int) -> None:
    batch = create_dispatched_batch(count, channel="log")
    expect(make_eligible_failures(batch), count, "eligible failures")


def run(ctx: Context) -> list[Result]:
    size = ctx.size(100_000)
    naive_size = ctx.size(5_000)

    empty_tables()
    _failures(naive_size)
    with Stopwatch() as naive:
        done = naive_retry()
    expect(done, naive_size, "naive requeued")
    expect(QueueMessage.objects.count(), naive_size, "naive queue rows")
    naive_rate = per_second(naive_size, naive.seconds)

    empty_tables()
    _failures(size)
    # Uncapped (the default caps a cycle at the design's 100): one cycle takes them all.
    with override_settings(RETRY_CYCLE_LIMIT=0), profiled(ctx, NAME), Stopwatch() as sw:
        retry_run = retry_cycle_run(trigger="command")
    expect(retry_run.requeued, size, "retry cycle requeued")
    expect(MessageLog.objects.filter(status=Status.PENDING, retry_count=1).count(), size, "pending")
    expect(QueueMessage.objects.count(), size, "queue rows")
    rate = per_second(size, sw.seconds)
    empty_tables()

    return [
        Result(
            f"{NAME} ({size:,})",
            rate,
            "msg/s",
            baseline=naive_rate,
            ratio=rate / naive_rate,
            aim=f">= {AIM_RATE:,} msg/s",
            details={
                "messages": size,
                "seconds": sw.seconds,
                "baseline_messages": naive_size,
                "baseline_seconds": naive.seconds,
            },
        ).judge(lambda figure, _: figure >= AIM_RATE)
    ]
