"""2. Creating batches: 100,000 recipients and their memory (this module,
``batch_create``); memory at 1,000,000 and a 1,000,000-line CSV through the
console form (``run_large``, the benchmark ``batch_create_large``).

Measured: ``services.batches.batch_create`` (checking every row, dropping
duplicates, one transaction writing the batch, every log and, since the db
queue shares the database, every queue row), fed from a generator as the CSV
parser and the API feed it. Baselines, same run: Django's ``bulk_create`` of
the same logs and queue rows from lists (no checks at all), for time and for
memory.

Memory is the peak resident size (``VmHWM``) of a fresh process that creates
one batch (``python -m bench.batch_create --peak N``), Django and all, as a
worker would see it: flat when batch_create streams, growing with the batch
when rows are held in lists.
"""

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NAME = "batch_create"
AIM_SECONDS = {"sqlite": 2.0, "postgresql": 3.0}
AIM_SPREAD = 0.2  # peak memory within ±20% from the smallest batch to the largest


def stream_rows(count: int, *, prefix: str = "user") -> Iterator:
    """Rows made as they are read, as a CSV file or an API body gives them."""
    from retry_admin.services.batches import RecipientRow

    for i in range(count):
        yield RecipientRow(
            line=i + 1,
            recipient=f"{prefix}{i}@example.com",
            context={"name": f"Name {i}", "code": f"{i:06d}"},
        )


def bulk_create_baseline(count: int) -> None:
    """The same logs and queue rows through Django's bulk_create, from lists."""
    from django.db import transaction
    from django.utils import timezone

    from bench.harness import bench_template, recipient_rows
    from retry_admin.envelope import Envelope
    from retry_admin.models import Batch, MessageLog, QueueMessage

    template = bench_template()
    rows = recipient_rows(count, prefix="bulk")
    now = timezone.now()
    with transaction.atomic():
        batch = Batch.objects.create(name="bulk", template=template, channel="log", total=count)
        logs = [
            MessageLog(
                id=uuid.uuid4(),
                batch=batch,
                recipient=row.recipient,
                context=dict(row.context),
                created_at=now,
                updated_at=now,
                enqueued_at=now,
            )
            for row in rows
        ]
        MessageLog.objects.bulk_create(logs, batch_size=5000)
        QueueMessage.objects.bulk_create(
            [
                QueueMessage(
                    queue="bench-bulk",
                    body=Envelope(log.id, batch.pk, log.recipient, template.pk, 1).encode(),
                    visible_at=now,
                    created_at=now,
                )
                for log in logs
            ],
            batch_size=5000,
        )


def _peak_child(count: int, mode: str) -> float:
    """Peak resident MiB of a fresh process creating one batch of ``count``."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.batch_create", "--peak", str(count), "--mode", mode],
        cwd=ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"^peak_kib=(\d+) logs=(\d+)$", done.stdout, re.MULTILINE)
    if done.returncode or not found:
        raise RuntimeError(f"peak child failed: {done.stdout[-2000:]}{done.stderr[-4000:]}")
    if int(found.group(2)) != count:
        raise RuntimeError(f"peak child wrote {found.group(2)} logs, expected {count}")
    return int(found.group(1)) / 1024


def _csv_file(path: Path, count: int) -> int:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("recipient,name,code\n")
        for start in range(0, count, 10_000):
            out.write(
                "".join(
                    f"csv{i}@example.com,Name {i},{i:06d}\n"
                    for i in range(start, min(count, start + 10_000))
                )
            )
    return path.stat().st_size


def _through_the_form(path: Path, count: int) -> tuple[int, float]:
    """POST the CSV file to /batches/new/ as a Super Admin; (logs, seconds)."""
    from django.contrib.auth import get_user_model
    from django.test import Client, override_settings

    from bench.harness import Stopwatch, bench_template
    from retry_admin.models import Batch, MessageLog
    from retry_admin.roles import SUPER_ADMIN, ensure_groups

    ensure_groups()
    user, _ = get_user_model().objects.get_or_create(username="bench-form")
    user.groups.set([user.groups.model.objects.get(name=SUPER_ADMIN)])
    client = Client()
    client.force_login(user)
    template = bench_template()
    with (
        override_settings(MAX_BATCH_RECIPIENTS=max(count, 200_000)),
        path.open("rb") as upload,
        Stopwatch() as watch,
    ):
        response = client.post(
            "/batches/new/",
            {
                "name": "bench csv",
                "template": template.pk,
                "channel": "log",
                "recipients": "",
                "idempotency_key": uuid.uuid4().hex,
                "csv_file": upload,
            },
        )
    if response.status_code != 302:
        raise RuntimeError(f"the form answered {response.status_code}: {response.content[:2000]!r}")
    batch = Batch.objects.get(name="bench csv")
    return MessageLog.objects.filter(batch=batch).count(), watch.seconds


def run(ctx) -> list:
    from django.db import connection

    from bench.harness import Result, Stopwatch, bench_template, empty_tables, expect, profiled
    from retry_admin.models import MessageLog, QueueMessage
    from retry_admin.services.batches import batch_create

    vendor = connection.vendor
    aim = AIM_SECONDS.get(vendor, AIM_SECONDS["postgresql"])
    size = ctx.size(100_000)

    empty_tables()
    with Stopwatch() as bulk:
        bulk_create_baseline(size)
    expect(MessageLog.objects.count(), size, "bulk_create logs")

    empty_tables()
    template = bench_template()
    with profiled(ctx, NAME), Stopwatch() as total:
        result = batch_create(
            name="bench", template=template, recipients=stream_rows(size), channel="log"
        )
    expect(result.batch.total, size, "batch total")
    expect(MessageLog.objects.count(), size, "logs created")
    expect(MessageLog.objects.needing_dispatch().count(), 0, "logs left in the outbox")
    expect(QueueMessage.objects.count(), size, "queue rows")
    empty_tables()
    rows = [
        Result(
            f"{NAME} {size:,} recipients ({vendor})",
            total.seconds,
            "s",
            baseline=bulk.seconds,
            ratio=bulk.seconds / total.seconds,
            aim=f"<= {aim:g} s",
            details={"recipients": size, "bulk_create_seconds": bulk.seconds},
        ).judge(lambda figure, _: figure <= aim)
    ]

    rows += _memory_rows(ctx, [ctx.size(10_000), size], baseline_at=size)
    return rows


def run_large(ctx) -> list:
    """``batch_create_large``: the 1,000,000-recipient figures (minutes on a
    busy machine, so a benchmark of their own): peak memory at 10,000 and
    1,000,000, and a 1,000,000-line CSV file through the console form."""
    from bench.harness import Result, empty_tables, expect

    # --quick keeps the smoke test small: 1,000 and 10,000.
    largest = ctx.size(1_000_000) if ctx.scale >= 1 else ctx.size(100_000)
    rows = _memory_rows(ctx, [ctx.size(10_000), largest])

    path = ctx.out_dir / "bench-recipients.csv"
    file_bytes = _csv_file(path, largest)
    try:
        created, seconds = _through_the_form(path, largest)
    finally:
        path.unlink(missing_ok=True)
    expect(created, largest, "logs created through the form")
    empty_tables()
    rows.append(
        Result(
            f"{NAME} CSV through the form {largest:,}",
            seconds,
            "s",
            details={"recipients": largest, "file_bytes": file_bytes},
            verdict="pass",  # it worked: every line of the file became a log
        )
    )
    return rows


def _memory_rows(ctx, sizes: list[int], *, baseline_at: int | None = None) -> list:
    """Peak memory per batch size, each in a fresh process, and their spread
    against AIM_SPREAD; at ``baseline_at``, bulk_create's peak beside it."""
    from bench.harness import Result, empty_tables

    bulk_peak = _peak_child(baseline_at, "bulk") if baseline_at else None
    empty_tables()
    peaks = []
    for count in sizes:
        peaks.append(_peak_child(count, "service"))
        empty_tables()
    rows = []
    for count, peak in zip(sizes, peaks, strict=True):
        baseline = bulk_peak if count == baseline_at else None
        rows.append(
            Result(
                f"{NAME} peak memory {count:,}",
                peak,
                "MiB",
                baseline=baseline,
                ratio=baseline / peak if baseline else None,
                details={"recipients": count, "baseline": "bulk_create from lists"},
            )
        )
    spread = max(peaks) / min(peaks)  # 1.0: flat
    rows.append(
        Result(
            f"{NAME} memory spread {sizes[0]:,} -> {sizes[-1]:,} (largest / smallest peak)",
            spread,
            "x",
            aim=f"<= {1 + AIM_SPREAD:g}x",
            details={"peaks_mib": dict(zip(map(str, sizes), peaks, strict=True))},
        ).judge(lambda figure, _: figure <= 1 + AIM_SPREAD)
    )
    return rows


def _peak_main(count: int, mode: str) -> None:
    """In a fresh process: create one batch, print the peak resident size."""
    sys.path[0] = str(ROOT)
    import django

    django.setup()
    from bench.harness import bench_template
    from retry_admin.models import MessageLog
    from retry_admin.services.batches import batch_create

    if mode == "bulk":
        bulk_create_baseline(count)
        logs = count
    else:
        from django.test import override_settings

        with override_settings(MAX_BATCH_RECIPIENTS=max(count, 200_000)):
            batch = batch_create(
                name=f"peak {count}",
                template=bench_template(),
                recipients=stream_rows(count, prefix="peak"),
                channel="log",
            ).batch
        logs = MessageLog.objects.filter(batch=batch).count()
    status = Path("/proc/self/status").read_text()
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    print(f"peak_kib={peak} logs={logs}")


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--peak", type=int, required=True)
    parser.add_argument("--mode", choices=["service", "bulk"], default="service")
    args = parser.parse_args()
    _peak_main(args.peak, args.mode)
