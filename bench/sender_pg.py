"""2. The sender on PostgreSQL, and what a drain leaves in the queue table.

The ``sender_log`` measurement (sender vs the naive loop, and vs the raw
claim + mark sent + ack ceiling) on PostgreSQL, plus the queue table's dead
tuples right after the drain (``pg_stat_user_tables.n_dead_tup``; every
queue row leaves two, which ``queues/db.py`` vacuums when a receive finds the
queue empty). A run on SQLite measures it in a child run of ``bench/run.py``
on the PostgreSQL server ``BENCH_POSTGRES_URL`` names (default: the local
one), in a database of its own; a run on PostgreSQL measures it in place.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

from bench.harness import Context, Result
from bench.sender_log import against_ceiling, measure

NAME = "sender_pg"
AIM_RATE = 10_000  # msg/s
AIM_DEAD_PER_MESSAGE = 0.05  # before: 2 dead tuples per message drained
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
ROOT = Path(__file__).resolve().parent.parent


def run(ctx: Context) -> list[Result]:
    if connection.vendor == "postgresql":
        return measure_here(ctx)
    return in_child_run(ctx, NAME)


def measure_here(ctx: Context) -> list[Result]:
    sender = measure(ctx, NAME, aim_rate=AIM_RATE, aim_ratio=None)
    ceiling = against_ceiling(ctx, sender, name=f"{NAME}_ceiling")
    messages, dead = sender.details["messages"], sender.details["queue_dead_tuples"]
    bloat = Result(
        "queue_dead_tuples",
        float(dead),
        "dead tuples",
        baseline=float(messages),
        ratio=dead / messages,
        aim=f"<= {AIM_DEAD_PER_MESSAGE} per message drained",
        details={"messages": messages, "table": "retry_admin_queuemessage"},
    ).judge(lambda _figure, ratio: ratio <= AIM_DEAD_PER_MESSAGE)
    return [sender, ceiling, bloat]


def in_child_run(ctx: Context, name: str) -> list[Result]:
    """Benchmark ``name``'s rows from a child ``bench/run.py --only name`` on
    the PostgreSQL server ``BENCH_POSTGRES_URL`` names, in a database of its own."""
    out_dir = ctx.out_dir / f"postgresql-{name}"
    out_dir.mkdir(exist_ok=True)
    env = {
        **os.environ,
        "DATABASE_URL": os.environ.get("BENCH_POSTGRES_URL", DEFAULT_SERVER),
        "RETRY_ADMIN_VAR_DIR": str(out_dir),
    }
    args = [sys.executable, str(ROOT / "bench" / "run.py"), "--only", name]
    if ctx.scale < 1:
        args.append("--quick")
    if ctx.profile:
        args.append("--profile")
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    results = out_dir / "results.json"
    if done.returncode != 0 or not results.exists():
        output = done.stdout[-2000:] + done.stderr[-2000:]
        raise RuntimeError(f"the PostgreSQL run failed:\n{output}")
    rows = json.loads(results.read_text())["results"]
    return [Result(**{k: v for k, v in row.items() if k != "group"}) for row in rows]
