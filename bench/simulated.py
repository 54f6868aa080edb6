"""4. The simulated channel at 50 ms latency: the sender's thread pool.

Measured: ``sender_drain(until_empty=True)`` with ``SENDER_CONCURRENCY`` as
configured (32 by default) and no failures. Baseline, same run: the same
service with ``SENDER_CONCURRENCY=1`` (sequential, about 20 msg/s).
"""

from contextlib import nullcontext

from django.conf import settings
from django.test.utils import override_settings

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
from retry_admin.channels import reset_channels
from retry_admin.services.sender import sender_drain

NAME = "simulated_50ms"
AIM_RATE = 500  # msg/s
LATENCY_MS = 50


def _drain(ctx: Context, count: int, *, concurrency: int, profile_as: str | None) -> float:
    empty_tables()
    with override_settings(
        SIMULATED_LATENCY_MS=LATENCY_MS,
        SIMULATED_TRANSIENT_RATE=0,
        SIMULATED_PERMANENT_RATE=0,
        SENDER_CONCURRENCY=concurrency,
    ):
        reset_channels()  # the channel reads its settings when it is built
        create_dispatched_batch(count, channel="simulated")
        profile = profiled(ctx, profile_as) if profile_as else nullcontext()
        with profile, Stopwatch() as sw:
            report = sender_drain(until_empty=True)
    reset_channels()
    expect(report.sent, count, f"sent at concurrency {concurrency}")
    empty_tables()
    return sw.seconds


def run(ctx: Context) -> list[Result]:
    size = ctx.size(2_000)
    naive_size = ctx.size(100)
    concurrency = settings.SENDER_CONCURRENCY

    naive_seconds = _drain(ctx, naive_size, concurrency=1, profile_as=None)
    seconds = _drain(ctx, size, concurrency=concurrency, profile_as=NAME)
    rate = per_second(size, seconds)
    naive_rate = per_second(naive_size, naive_seconds)
    return [
        Result(
            NAME,
            rate,
            "msg/s",
            baseline=naive_rate,
            ratio=rate / naive_rate,
            aim=f">= {AIM_RATE} msg/s",
            details={
                "messages": size,
                "seconds": seconds,
                "concurrency": concurrency,
                "batch_size": settings.SENDER_BATCH_SIZE,
                "baseline_messages": naive_size,
                "baseline_seconds": naive_seconds,
            },
        ).judge(lambda figure, _: figure >= AIM_RATE)
    ]
