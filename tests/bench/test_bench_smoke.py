"""The benchmark suite still runs: ``bench/run.py --quick`` end to end, in its
own var dir and SQLite file. It checks that every benchmark reported a figure,
never how fast anything was (timings belong to ``make bench``)."""

import json
import os
import subprocess
import sys
from pathlib import Path

# Fixtures: sender_redis and sender_rabbitmq need the local servers.
from tests.emulators import rabbitmq_url, redis_url  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = {
    "sender_log",
    "sender_redis",
    "sender_rabbitmq",
    "sender_pg",  # a child run on the local PostgreSQL (BENCH_POSTGRES_URL)
    "sender_scaling",
    "batch_create",
    "batch_create_large",
    "batch_create_remote",  # moto's server mode and Azurite
    "retry_cycle",
    "simulated",
    "first_delivery",
    "pages",
}


def test_it_runs_every_benchmark_quickly(tmp_path, redis_url, rabbitmq_url):  # noqa: F811
    env = {**os.environ, "RETRY_ADMIN_VAR_DIR": str(tmp_path), "REDIS_URL": redis_url}
    env.pop("DATABASE_URL", None)  # its own SQLite file, whatever the suite runs on
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    results = json.loads((tmp_path / "results.json").read_text())["results"]
    assert {row["group"] for row in results} == BENCHMARKS
    for row in results:
        assert row["figure"] > 0 or row["unit"] == "dead tuples", row  # none left is the aim
        assert row["verdict"] in {"pass", "MISS", "info"}, row
    # The pages benchmark keeps its seeded databases for the next run (bench/http_load.py).
    left = [path.name for path in tmp_path.glob("*.sqlite3")]
    assert not [name for name in left if not name.startswith("pages-seeded-")], left
