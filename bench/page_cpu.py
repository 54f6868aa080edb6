"""CPU time and queries per console page at 1,000,000 logs, in-process.

The HTTP load run (bench/http_load.py) times pages by the wall clock, which
on a shared machine mostly measures the other processes. This asks for the
same pages through Django's test client in one process, on a copy of the
database http_load.py keeps (``pages-seeded-<size>.sqlite3`` in the bench
dir; run ``bench/run.py --only pages`` once to make it) and the empty one
beside it, and prints each page's CPU time (``time.process_time``: min and
median of ``--rounds``) and its queries: steadier figures to compare two
versions of the code by. CPU time is the whole process's, SQLite's work
included (it runs in the calling thread).

    RETRY_ADMIN_VAR_DIR=/tmp/var-pages .venv/bin/python bench/page_cpu.py [--rounds 30] [--quick]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _database(out_dir: Path, size: int) -> Path:
    """A working copy of the kept database of ``size`` logs."""
    kept = out_dir / f"pages-seeded-{size}.sqlite3"
    if not kept.exists():
        raise SystemExit(f"{kept} is missing: run bench/run.py --only pages first")
    work = out_dir / f"pages-cpu-{size}.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(kept, work)
    return work


def measure(rounds: int) -> list[tuple[str, float, float, int]]:
    """(page, min ms, median ms, queries) for each page of http_load.py."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.http_load import BATCH_PAGE, USER, pages

    settings.ALLOWED_HOSTS = ["*"]
    client = Client()
    client.force_login(get_user_model().objects.get(username=USER))
    rows = []
    for name, path in pages({"batch": BATCH_PAGE}):
        for _ in range(2):  # warm: templates, the shared figures
            assert client.get(path).status_code == 200, path
        with CaptureQueriesContext(connection) as queries:
            client.get(path)
        count = len(queries.captured_queries)  # the log is emptied at each request
        spent = []
        for _ in range(rounds):
            started = time.process_time()
            client.get(path)
            spent.append((time.process_time() - started) * 1000)
        rows.append((name, min(spent), statistics.median(spent), count))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="the 20,000-log database")
    args = parser.parse_args()
    from bench.http_load import FULL_SIZE, QUICK_SIZE

    out_dir = Path(os.environ.get("RETRY_ADMIN_VAR_DIR") or ROOT / "var" / "bench").resolve()
    size = QUICK_SIZE if args.quick else FULL_SIZE
    # The console's shared figures are kept per database path: none from a last run.
    shutil.rmtree(out_dir / "console-figures", ignore_errors=True)
    results = {}
    for label, logs in ((f"{size:,} logs", size), ("no messages", 0)):
        os.environ["DATABASE_URL"] = f"sqlite:///{_database(out_dir, logs)}"
        # One Django per database: a child process for each.
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(args.rounds)],
            cwd=ROOT,
            env={**os.environ, "QUEUE_BACKEND": "db", "LOG_LEVEL": "WARNING"},
            capture_output=True,
            text=True,
            check=True,
        )
        results[label] = [line.split("\t") for line in done.stdout.strip().splitlines()]
    names = [row[0] for row in results[f"{size:,} logs"]]
    print(f"{'page':32} {'CPU ms min / median':>22} {'queries':>8}   no messages: min / median")
    for i, name in enumerate(names):
        _, low, mid, queries = results[f"{size:,} logs"][i]
        _, base_low, base_mid, _ = results["no messages"][i]
        print(
            f"{name:32} {float(low):>10.1f} / {float(mid):<9.1f} {queries:>8}"
            f"   {float(base_low):.1f} / {float(base_mid):.1f}"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
        import django

        django.setup()
        for name, low, mid, queries in measure(int(sys.argv[2])):
            print(f"{name}\t{low}\t{mid}\t{queries}")
    else:
        sys.path.insert(0, str(ROOT))
        main()
