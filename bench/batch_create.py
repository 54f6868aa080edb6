"""2. Creating a batch of 100,000 recipients, against one ``.save()`` per row.

Measured: ``services.batches.batch_create`` (validation, then one
transaction writing the batch, every log and, since the db queue shares the
database, every queue row). Baseline, same run: ``MessageLog.objects.create``
one row at a time in one transaction, on fewer rows (the full size would take
minutes).
"""

from django.db import transaction
from django.utils import timezone

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
    with profiled(ctx, NAME), Stopwatch() as total:
        result = batch_create(name="bench 100k", template=template, recipients=rows, channel="log")
    expect(result.batch.total, size, "batch total")
    expect(MessageLog.objects.count(), size, "logs created")
    expect(MessageLog.objects.needing_dispatch().count(), 0, "logs left in the outbox")
    expect(QueueMessage.objects.count(), size, "queue rows")
    empty_tables()

    create_rate = per_second(size, total.seconds)
    details = {
        "recipients": size,
        "total_seconds": total.seconds,
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
        Result(
            f"{NAME} create rows/s",
            create_rate,
            "rows/s",
            baseline=naive_rate,
            ratio=create_rate / naive_rate,
            details=details,
        ),
    ]
