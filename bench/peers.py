"""The product against what a user would otherwise pick: ``make bench-peers``.

The same job for each: 20,000 messages (2,000 with ``--quick``) whose logs
are committed and waiting in the outbox (``batch_create``'s result, not
timed), delivered through the ``log`` channel and recorded (the log marked
sent, a ``DeliveryAttempt`` row, the hourly count). Timed from the first
enqueue to the moment every log reads ``sent``:

- the product: ``dispatch`` puts the batch on the db queue, and a sender
  process (``manage.py run_sender``, running beforehand) delivers it.
- django-q2, ORM broker (the product's own settings with two workers,
  bench/peer_settings.py): ``async_task`` per message, ``manage.py qcluster``
  running beforehand.
- Celery 5 on the local Redis (bench/peer_celery.py): ``delay`` per message,
  a prefork worker of concurrency 2 running beforehand.

Each peer task does one message the way a task queue user would write it
(``deliver_one``): load the log with its template, render, send through the
channel, then in one transaction mark it sent, add the attempt and the
hourly count. Workers are real processes started before the clock; the
ratios come from one run, so a busy machine slows every contender alike.

    bench/peers.py [--quick] [--rounds N] [--only product|django-q2|celery]

Database as ``make bench``: its own SQLite file in the bench dir, or a
dedicated PostgreSQL database when ``DATABASE_URL`` names a server.
"""

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SIZE = 20_000
AIM_RATIO = 20.0
WORKERS = 2  # each peer's worker processes: one per core here
PEERS = ("product", "django-q2", "celery")
DEADLINE = {
    "seconds": 1800.0
}  # --deadline: a contender still running then is rated on what it sent
# The product's sender polls an idle queue this often, as django-q2's ORM
# broker does by default (its "poll", 0.2 s); Celery is pushed its tasks.
POLL_SECONDS = 0.2


def deliver_one(message_id: str) -> None:
    """One message, as a task: what the sender does for it (render, the
    ``log`` channel, the log marked sent, its attempt row, the hourly count)."""
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from retry_admin.channels import OutgoingMessage, get_channel
    from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, Status

    log = MessageLog.objects.select_related("batch__template").get(pk=message_id)
    started = time.perf_counter()
    get_channel("log").send(
        OutgoingMessage(
            message_id=log.pk,
            recipient=log.recipient,
            body=log.batch.template.render(log.context, log.recipient),
            attempt=log.attempt_count + 1,
            batch_id=log.batch_id,
            context=log.context,
        )
    )
    duration_ms = (time.perf_counter() - started) * 1000
    now = timezone.now()
    with transaction.atomic():
        MessageLog.objects.filter(pk=log.pk).update(
            status=Status.SENT, sent_at=now, updated_at=now, attempt_count=F("attempt_count") + 1
        )
        DeliveryAttempt.objects.create(
            message_id=log.pk,
            number=log.attempt_count + 1,
            source=log.enqueue_source,
            outcome=DeliveryAttempt.Outcome.SENT,
            duration_ms=duration_ms,
        )
        HourlyCount.add(sent=1)


# Set-up shared by every contender


def _outbox(size: int) -> tuple[int, str, list[str]]:
    """``size`` committed pending logs, none on any queue, and one more to
    warm the workers up: (batch id, warm-up id, ids)."""
    from bench.harness import bench_template, empty_tables, recipient_rows
    from retry_admin.models import MessageLog, QueueMessage
    from retry_admin.services.batches import batch_create

    empty_tables()
    batch = batch_create(
        name=f"peers {size}",
        template=bench_template(),
        recipients=recipient_rows(size + 1),
        channel="log",
    ).batch
    QueueMessage.objects.all().delete()  # batch_create dispatched on commit: undo that
    logs = MessageLog.objects.filter(batch=batch)
    logs.update(enqueued_at=None)
    ids = [str(pk) for pk in logs.order_by("id").values_list("id", flat=True)]
    if len(ids) != size + 1:
        raise RuntimeError(f"expected {size + 1} logs, made {len(ids)}")
    return batch.pk, ids[0], ids[1:]


def _wait_all_sent(
    size: int, processes: list[subprocess.Popen], started: float, deadline: float
) -> tuple[int, float]:
    """(logs that read ``sent``, seconds since ``started``) once ``size`` do,
    or once ``deadline`` seconds have passed."""
    from retry_admin.models import MessageLog, Status

    while True:
        sent = MessageLog.objects.filter(status=Status.SENT).count()
        elapsed = time.perf_counter() - started
        if sent == size or elapsed > deadline:
            return sent, elapsed
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[:3]} exited with {process.returncode}")
        time.sleep(0.1)


def _check_recorded(sent: int) -> None:
    from bench.harness import expect
    from retry_admin.models import DeliveryAttempt, HourlyCount

    expect(DeliveryAttempt.objects.count(), sent, "delivery attempts")
    expect(sum(HourlyCount.objects.values_list("sent", flat=True)), sent, "hourly sent count")


def _spawn(args: list[str], log: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own group: stopping it stops its workers
    )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# The contenders: each returns its msg/s from the first enqueue to all sent


def _timed(
    worker: subprocess.Popen, size: int, warm_up: Callable[[], None], enqueue: Callable[[], None]
) -> float:
    """Warm ``worker`` up with one message (``warm_up`` enqueues it), then
    time ``enqueue`` of the ``size`` others until every log reads sent (or
    ``--deadline`` passes: then the rate of those sent so far). Stops the
    worker."""
    from retry_admin.models import MessageLog, Status

    try:
        warm_up()
        if _wait_all_sent(1, [worker], time.perf_counter(), 300)[0] != 1:
            raise RuntimeError(f"{worker.args[:3]} did not deliver its first message in 300 s")
        started = time.perf_counter()
        enqueue()
        sent, seconds = _wait_all_sent(size + 1, [worker], started, DEADLINE["seconds"])
    finally:
        _stop(worker)
    # Every log that reads sent (some finished while the worker stopped) has
    # its attempt and its hourly count.
    _check_recorded(MessageLog.objects.filter(status=Status.SENT).count())
    if sent < size + 1:
        print(f"  deadline: {sent - 1:,} of {size:,} sent in {seconds:,.0f} s", flush=True)
    return (sent - 1) / seconds


def run_product(size: int, out_dir: Path) -> float:
    from retry_admin.services.dispatch import dispatch

    batch_id, warm, _ = _outbox(size)

    def enqueue() -> None:
        result = dispatch(batch_id=batch_id)
        if result.enqueued != size:
            raise RuntimeError(f"dispatch enqueued {result.enqueued} of {size}: {result.error}")

    sender = _spawn(
        [sys.executable, "manage.py", "run_sender"],
        out_dir / "peers-sender.log",
        SENDER_POLL_SECONDS=str(POLL_SECONDS),
    )
    return _timed(sender, size, lambda: dispatch(message_ids=[uuid.UUID(warm)]), enqueue)


def run_django_q(size: int, out_dir: Path) -> float:
    from django_q.models import OrmQ, Task
    from django_q.tasks import async_task

    OrmQ.objects.all().delete()
    Task.objects.all().delete()
    _, warm, ids = _outbox(size)
    cluster = _spawn(
        [sys.executable, "manage.py", "qcluster"],
        out_dir / "peers-django-q2.log",
        DJANGO_SETTINGS_MODULE="bench.peer_settings",
    )
    task = "bench.peers.deliver_one"
    return _timed(
        cluster, size, lambda: async_task(task, warm), lambda: [async_task(task, i) for i in ids]
    )


def run_celery(size: int, out_dir: Path) -> float:
    from bench.peer_celery import app, deliver

    queue = f"bench-peers-{uuid.uuid4().hex[:8]}"
    _, warm, ids = _outbox(size)
    worker = _spawn(
        [
            str(ROOT / ".venv" / "bin" / "celery"),
            "-A",
            "bench.peer_celery",
            "worker",
            "--pool",
            "prefork",
            "--concurrency",
            str(WORKERS),
            "--queues",
            queue,
            "--loglevel",
            "WARNING",
            "--without-gossip",
            "--without-mingle",
        ],
        out_dir / "peers-celery.log",
    )
    try:
        return _timed(
            worker,
            size,
            lambda: deliver.apply_async((warm,), queue=queue),
            lambda: [deliver.apply_async((pk,), queue=queue) for pk in ids],
        )
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_delete(queue)


CONTENDERS = {"product": run_product, "django-q2": run_django_q, "celery": run_celery}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{SIZE // 10:,} messages (smoke)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds (median)")
    parser.add_argument("--only", action="append", choices=PEERS, help="repeatable")
    parser.add_argument(
        "--deadline",
        type=float,
        default=DEADLINE["seconds"],
        help="seconds a contender may take; past it, its rate is what it sent so far",
    )
    args = parser.parse_args(argv)
    DEADLINE["seconds"] = args.deadline
    os.environ.pop("REDIS_URL", None)  # the product and django-q2 on their ORM defaults
    os.environ.setdefault("BENCH_CELERY_BROKER", "redis://127.0.0.1:6379/15")

    from bench.run import prepare_environment, render_table

    out_dir, cleanup = prepare_environment()
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.peer_settings"
    import django

    django.setup()
    try:
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        return _run(args, out_dir, render_table)
    finally:
        cleanup()


def _run(args: argparse.Namespace, out_dir: Path, render_table) -> int:
    from bench.harness import empty_tables

    size = SIZE // 10 if args.quick else SIZE
    names = [name for name in PEERS if not args.only or name in args.only]
    measured: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(args.rounds):
        for name in names:
            print(f"- round {round_ + 1}: {name}, {size:,} messages ...", flush=True)
            measured[name].append(CONTENDERS[name](size, out_dir))
            print(f"  {measured[name][-1]:,.1f} msg/s", flush=True)
            empty_tables()
    rates = {name: statistics.median(each) for name, each in measured.items()}
    rows = []
    for name in names:
        rate = rates[name]
        row = {
            "benchmark": f"peers: {name}, {size:,} messages",
            "figure": rate,
            "unit": "msg/s",
            "baseline": None,
            "ratio": None,
            "aim": "",
            "verdict": "info",
        }
        if name != "product" and "product" in rates:
            ratio = rates["product"] / rate
            row.update(
                benchmark=f"peers: product vs {name}, {size:,} messages",
                figure=rates["product"],
                baseline=rate,
                ratio=ratio,
                aim=f">= {AIM_RATIO:.0f}x",
                verdict="pass" if ratio >= AIM_RATIO else "MISS",
            )
        rows.append(row)
    print()
    print(render_table(rows))
    print("\nmsg/s per round:", {k: [round(r, 1) for r in v] for k, v in measured.items()})
    return 0


if __name__ == "__main__":
    sys.path[0] = str(ROOT)  # run as a script: import bench.* and config from the project
    sys.exit(main(sys.argv[1:]))
