"""2. Creating a batch of 100,000 recipients, against one ``.save()`` per row.

Measured: ``services.batches.batch_create`` (validation, one transaction,
then the after-commit dispatch of every message to the db queue). The
dispatch runs inside the call, from ``on_commit``; a thin wrapper around
``services.dispatch.dispatch`` times it so create and dispatch are reported
apart. Baseline, same run: ``MessageLog.objects.create`` one row at a time in
one transaction, on fewer rows (the full size would take minutes).
"""

import time
from contextlib import contextmanager

from django.db import transaction
from django.utils import timezone

import retry_admin.services.dispatch as dispatch_module
from bench.harness import (
    Context,
    Result,
    Stopwatch,
    bench_template,
    empty_tables,
    expect,
    per_second,
    profiled,
    recipient_rows,
)
from retry_admin.models import Batch, MessageLog, QueueMessage
from retry_admin.services.batches import batch_create

NAME = "batch_create"
AIM_SECONDS = 5.0


@contextmanager
def timed_dispatch(spent: list[float]):
    """Time every ``dispatch`` call (``dispatch_on_commit`` looks it up by
    module global at call time), without changing what it does."""
    original = dispatch_module.dispatch

    def wrapper(**kwargs):
        started = time.perf_counter()
        try:
            return original(**kwargs)
        finally:
            spent.append(time.perf_counter() - started)

    dispatch_module.dispatch = wrapper
    try:
        yield
    finally:
        dispatch_module.dispatch = original


def naive_create(count: int) -> int:
    template = bench_template()
    rows = recipient_rows(count, prefix="naive")
    with transaction.atomic():
        batch = Batch.objects.create(name="naive", template=template, channel="log", total=count)
        for row in rows:
            now = timezone.now()
            MessageLog.objects.create(
                batch=batch,
                recipient=row.recipient,
                context=dict(row.context),
                created_at=now,
                updated_at=now,
            )
    return MessageLog.objects.count()


def run(ctx: Context) -> list[Result]:
    size = ctx.size(100_000)
    naive_size = ctx.size(5_000)

    empty_tables()
    with Stopwatch() as naive:
        created = naive_create(naive_size)
    expect(created, naive_size, "naive rows")
    naive_rate = per_second(naive_size, naive.seconds)

    empty_tables()
    template = bench_template()
    rows = recipient_rows(size)
    dispatch_seconds: list[float] = []
    with profiled(ctx, NAME), timed_dispatch(dispatch_seconds), Stopwatch() as total:
        result = batch_create(name="bench 100k", template=template, recipients=rows, channel="log")
    expect(len(dispatch_seconds), 1, "dispatch calls")
    expect(result.batch.total, size, "batch total")
    expect(MessageLog.objects.count(), size, "logs created")
    expect(MessageLog.objects.needing_dispatch().count(), 0, "logs left in the outbox")
    expect(QueueMessage.objects.count(), size, "queue rows")
    empty_tables()

    dispatch_s = dispatch_seconds[0]
    create_s = total.seconds - dispatch_s
    create_rate = per_second(size, create_s)
    details = {
        "recipients": size,
        "total_seconds": total.seconds,
        "create_seconds": create_s,
        "dispatch_seconds": dispatch_s,
        "baseline_rows": naive_size,
        "baseline_seconds": naive.seconds,
    }
    return [
        Result(
            f"{NAME} total ({size:,})",
            total.seconds,
            "s",
            aim=f"< {AIM_SECONDS:g} s",
            details=details,
        ).judge(lambda figure, _: figure < AIM_SECONDS),
        Result(f"{NAME} create phase", create_s, "s", details=details),
        Result(f"{NAME} dispatch phase", dispatch_s, "s", details=details),
        Result(
            f"{NAME} create rows/s",
            create_rate,
            "rows/s",
            baseline=naive_rate,
            ratio=create_rate / naive_rate,
            details=details,
        ),
    ]
