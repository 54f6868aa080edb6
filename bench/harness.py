"""What every benchmark shares: results, timing, profiling, fixtures, cleanup.

Imported only after ``django.setup()`` (``bench/run.py`` does that first).
"""

import cProfile
import io
import pstats
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path

from django.db import connection
from django.utils import timezone

from retry_admin.channels import reset_channels
from retry_admin.models import (
    Batch,
    DeliveryAttempt,
    HourlyCount,
    MessageEvent,
    MessageLog,
    QueueMessage,
    RetryRun,
    Status,
    Template,
)
from retry_admin.queues import get_backend, reset_backends
from retry_admin.services.batches import RecipientRow, batch_create
from retry_admin.services.dispatch import dispatch

# Children before parents, so plain DELETEs never trip a foreign key.
_TABLES = [MessageEvent, DeliveryAttempt, MessageLog, QueueMessage, Batch, HourlyCount, RetryRun]


@dataclass
class Result:
    """One row of the table. ``aim`` is met when ``check(figure, ratio)`` is
    true; a row without a check is information only."""

    benchmark: str
    figure: float
    unit: str
    baseline: float | None = None
    ratio: float | None = None
    aim: str = ""
    verdict: str = "info"
    details: dict = field(default_factory=dict)
    group: str = ""  # the benchmark (``--only`` name) this row belongs to

    def judge(self, check: Callable[[float, float | None], bool] | None) -> "Result":
        if check is not None:
            self.verdict = "pass" if check(self.figure, self.ratio) else "MISS"
        return self

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    """How a run is configured: ``scale`` shrinks every size (``--quick``)."""

    scale: float
    out_dir: Path
    profile: bool = False

    def size(self, full: int, *, minimum: int = 10) -> int:
        return max(minimum, int(full * self.scale))


class Stopwatch:
    """``with Stopwatch() as sw: ...`` then ``sw.seconds``."""

    seconds: float = 0.0

    def __enter__(self) -> "Stopwatch":
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._started


@contextmanager
def profiled(ctx: Context, name: str, *, top: int = 25) -> Iterator[None]:
    """With ``--profile``, profile the block and print where the time went
    (cumulative and own time), keeping the raw stats in the bench dir."""
    if not ctx.profile:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        path = ctx.out_dir / f"{name}.prof"
        profiler.dump_stats(str(path))
        for sort in ("cumulative", "tottime"):
            buffer = io.StringIO()
            stats = pstats.Stats(profiler, stream=buffer).strip_dirs().sort_stats(sort)
            stats.print_stats(top)
            print(f"\n--- profile of {name}, by {sort} (raw: {path}) ---")
            print(buffer.getvalue())


def per_second(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def empty_tables() -> None:
    """Start each measurement from empty tables. Plain DELETEs: the ORM's
    cascade collector would load every row first."""
    with connection.cursor() as cursor:
        for model in _TABLES:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")
    reset_channels()
    reset_backends()


def bench_template() -> Template:
    template, _ = Template.objects.get_or_create(
        name="Bench greeting",
        defaults={
            "body": "Hello {{ name }}, your code is {{ code }}. Reply STOP to {{ recipient }}."
        },
    )
    return template


def recipient_rows(count: int, *, prefix: str = "user") -> list[RecipientRow]:
    return [
        RecipientRow(
            line=i + 1,
            recipient=f"{prefix}{i}@example.com",
            context={"name": f"Name {i}", "code": f"{i:06d}"},
        )
        for i in range(count)
    ]


def create_dispatched_batch(count: int, *, channel: str, prefix: str = "user") -> Batch:
    """A batch created through the service, every message on the queue."""
    result = batch_create(
        name=f"bench {channel} {count}",
        template=bench_template(),
        recipients=recipient_rows(count, prefix=prefix),
        channel=channel,
    )
    # batch_create dispatches from on_commit, which has already run here (we
    # are not inside an outer transaction); this catches anything it left.
    dispatch(batch_id=result.batch.pk)
    queued = get_backend().depth().total  # the configured backend's
    if queued != count:
        raise RuntimeError(f"expected {count} queued messages, found {queued}")
    return result.batch


def make_eligible_failures(batch: Batch) -> int:
    """Turn a dispatched batch into failures the retry cycle will pick up:
    failed three hours ago, off the queue."""
    past = timezone.now() - timedelta(hours=3)
    count = MessageLog.objects.filter(batch=batch).update(
        status=Status.FAILED,
        last_error="Upstream gateway timeout after 30 ms",
        error_signature="Upstream gateway timeout after <n> ms",
        attempt_count=1,
        updated_at=past,
        enqueued_at=past,
    )
    QueueMessage.objects.all().delete()
    return count


def expect(actual: int, wanted: int, what: str) -> None:
    """A benchmark that did not do its work must not report a figure."""
    if actual != wanted:
        raise RuntimeError(f"{what}: expected {wanted}, got {actual}")
