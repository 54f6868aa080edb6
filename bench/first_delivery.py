"""Issue 12, aim 3: first delivery p95 <= 1 s after submit, idle (db queue).

Measured: a real ``manage.py run_sender`` process on the run's database,
idle; then, several times, a small batch (``SIZE`` recipients, log channel)
is created through the service (what a submit does) and timed until every
message has an outcome. The sender wakes on NOTIFY on PostgreSQL and on its
``SENDER_IDLE_POLL_SECONDS`` read on SQLite. Baseline, same run: the loop the
old minute schedule ran (``sender_drain`` polling every
``SENDER_POLL_SECONDS``) in a process of its own, timed the same way; that is
its best case (between two scheduled drains a batch waited for the next
minute).
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from bench.harness import Context, Result, bench_template, empty_tables, recipient_rows
from retry_admin.models import Heartbeat, MessageLog, Status
from retry_admin.services.batches import batch_create
from retry_admin.services.health import RUNNER_BEAT

NAME = "first_delivery"
AIM_SECONDS = 1.0
SIZE = 20
ROOT = Path(__file__).resolve().parent.parent
# The old schedule's drain, as retry_admin/tasks.py ran it every minute.
POLLING_DRAIN = (
    "import django; django.setup()\n"
    "import signal\n"
    "from retry_admin.services.sender import sender_drain\n"
    "stop = []\n"
    "signal.signal(signal.SIGTERM, lambda *a: stop.append(1))\n"
    "sender_drain(seconds=3600, should_stop=lambda: bool(stop))\n"
)


def _child(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "config.settings"}
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )


def _stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _wait(condition, *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _runner_idle() -> bool:
    details = Heartbeat.objects.filter(name=RUNNER_BEAT).values_list("details", flat=True).first()
    return (details or {}).get("state") == "idle"


def _rounds(count: int, *, idle: float, before_each=None) -> list[float]:
    """Submit ``count`` small batches, each after ``idle`` (+ up to 1 s) of
    quiet; returns each one's seconds from submit to its last outcome."""
    template = bench_template()
    times = []
    for number in range(count):
        time.sleep(idle + random.random())
        if before_each is not None:
            before_each()
        started = time.perf_counter()
        batch = batch_create(
            name=f"first delivery {number}",
            template=template,
            recipients=recipient_rows(SIZE, prefix=f"r{number}-"),
            channel="log",
        ).batch
        pending = MessageLog.objects.filter(batch=batch, status=Status.PENDING)
        _wait(lambda pending=pending: not pending.exists(), seconds=120, what="the outcomes")
        times.append(time.perf_counter() - started)
    return times


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(ctx: Context) -> list[Result]:
    rounds = max(5, round(20 * ctx.scale) if ctx.scale < 1 else 20)
    baseline_rounds = max(2, rounds // 4)
    log = ctx.out_dir / "first_delivery.log"
    empty_tables()

    sender = _child(["manage.py", "run_sender"], log)
    try:
        _wait(_runner_idle, seconds=60, what="run_sender to report idle")
        # Idle means idle: it must be asleep, not finishing a previous batch.
        times = _rounds(
            rounds, idle=0.5, before_each=lambda: _wait(_runner_idle, seconds=30, what="idle")
        )
    finally:
        _stop(sender)
    empty_tables()

    polling = _child(["-c", POLLING_DRAIN], log)
    try:
        time.sleep(2)  # started and polling
        baseline = _rounds(baseline_rounds, idle=0.5)
    finally:
        _stop(polling)
    empty_tables()

    p95, baseline_p95 = _p95(times), _p95(baseline)
    mode = "notify" if connection.vendor == "postgresql" else "poll"
    return [
        Result(
            NAME,
            p95,
            "s p95",
            baseline=baseline_p95,
            ratio=baseline_p95 / p95 if p95 else None,
            aim=f"<= {AIM_SECONDS:g} s",
            details={
                "batches": rounds,
                "recipients_each": SIZE,
                "wakes_on": mode,
                "idle_poll_seconds": settings.SENDER_IDLE_POLL_SECONDS,
                "seconds": [round(t, 3) for t in times],
                "median": sorted(times)[len(times) // 2],
                "baseline": f"sender_drain polling every {settings.SENDER_POLL_SECONDS:g} s "
                "(the old minute schedule's loop, its best case)",
                "baseline_seconds": [round(t, 3) for t in baseline],
            },
        ).judge(lambda figure, _: figure <= AIM_SECONDS)
    ]
