"""2b. Two sender processes against one: a 50 ms channel, on PostgreSQL.

Measured: the ``simulated`` channel at 50 ms latency, no failures, drained by
two sender processes (``sender_drain(until_empty=True)`` in each) started
together on the run's database. Baseline, same run: one process draining as
many. Each process is started and Django set up before the clock starts (they
wait for a go line on stdin), so only draining is timed. Chunks of a
sixteenth of the messages, so that both processes get work and neither waits
long for the other's last chunk.

On PostgreSQL the batch's tables are analyzed once it is queued, before the
clock starts (``models/analyze.py`` would do it in whichever process claims
the first full chunk, inside one run and not the other): the row measures
how draining scales, not a one-off per backlog.

The machine this runs on is shared: a burst of load during one of the two
drains moves the ratio either way. So the pair is measured in ``ROUNDS``
rounds, alternating which goes first, and the row reports the round with the
median ratio (every round's figures are in the details).

Aim 2 of issue 12 is PostgreSQL's: a run on SQLite (where two processes'
writes queue for its one write lock, ``docs/backends.md``) measures it in a
child run on the server ``BENCH_POSTGRES_URL`` names, as ``sender_pg`` does.

``python -m bench.sender_scaling child`` is one such process.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

NAME = "sender_two_processes"
AIM_RATIO = 1.8
ROUNDS = 3
LATENCY_MS = 50
ROOT = Path(__file__).resolve().parent.parent


def child() -> None:
    """One sender process: set up, say ready, drain on "go", report."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from retry_admin.services.sender import sender_drain

    print("ready", flush=True)
    sys.stdin.readline()
    report = sender_drain(until_empty=True)
    print(json.dumps({"sent": report.sent, "chunks": report.chunks}), flush=True)


def _drain(processes: int, chunk: int) -> tuple[float, list[dict]]:
    env = {
        **os.environ,
        "SENDER_BATCH_SIZE": str(chunk),
        "SIMULATED_LATENCY_MS": str(LATENCY_MS),
        "SIMULATED_TRANSIENT_RATE": "0",
        "SIMULATED_PERMANENT_RATE": "0",
    }
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.sender_scaling", "child"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    try:
        for process in started:
            if process.stdout.readline().strip() != "ready":
                raise RuntimeError("a sender process did not start")
        began = time.perf_counter()
        for process in started:
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = [json.loads(process.stdout.readline()) for process in started]
        seconds = time.perf_counter() - began
        for process in started:
            if process.wait(timeout=60) != 0:
                raise RuntimeError("a sender process failed")
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
                process.wait()
    return seconds, reports


def _analyze() -> None:
    from django.db import connection

    from retry_admin.models import MessageLog, QueueMessage

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in (MessageLog, QueueMessage):
                cursor.execute(f"ANALYZE {model._meta.db_table}")


def run(ctx) -> list:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        from bench.sender_pg import in_child_run

        return in_child_run(ctx, "sender_scaling")

    from bench.harness import Result, create_dispatched_batch, empty_tables, expect, per_second

    size = ctx.size(4_000, minimum=80)
    chunk = max(10, size // 16)
    rounds = []
    for number in range(ROUNDS if ctx.scale >= 1 else 1):
        measured = {}
        for processes in (1, 2) if number % 2 == 0 else (2, 1):
            empty_tables()
            create_dispatched_batch(size, channel="simulated")
            _analyze()
            seconds, reports = _drain(processes, chunk)
            expect(sum(r["sent"] for r in reports), size, f"sent by {processes} processes")
            measured[processes] = {
                "rate": per_second(size, seconds),
                "seconds": seconds,
                "sent_by_process": [r["sent"] for r in reports],
            }
        rounds.append(measured)
    empty_tables()
    rounds.sort(key=lambda m: m[2]["rate"] / m[1]["rate"])
    median = rounds[len(rounds) // 2]
    one, two = median[1]["rate"], median[2]["rate"]
    return [
        Result(
            NAME,
            two,
            "msg/s",
            baseline=one,
            ratio=two / one,
            aim=f">= {AIM_RATIO}x one process",
            details={
                "messages": size,
                "chunk": chunk,
                "latency_ms": LATENCY_MS,
                "sender_concurrency": settings.SENDER_CONCURRENCY,
                "ratios": [round(m[2]["rate"] / m[1]["rate"], 3) for m in rounds],
                "rounds": rounds,
            },
        ).judge(lambda _figure, ratio: ratio >= AIM_RATIO)
    ]


if __name__ == "__main__" and sys.argv[1:] == ["child"]:
    child()
