"""The benchmark suite: ``make bench`` (or ``.venv/bin/python bench/run.py``).

Each benchmark times a service and, in the same run, a naive baseline doing
the same work, so the ratio holds on a noisy machine. The run owns its
database: a fresh SQLite file in the bench dir by default, or, when
``DATABASE_URL`` points at PostgreSQL, a dedicated database created on that
server and dropped at the end.

    bench/run.py [--quick] [--only NAME ...] [--profile] [--fail-on-miss]

The bench dir is ``$RETRY_ADMIN_VAR_DIR`` when set, else ``var/bench``; the
table is printed and written to ``<bench dir>/results.json``.
"""

import argparse
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# Run as a script, sys.path[0] is bench/: put the project there instead so
# ``bench.*`` and ``config`` import and no bench module shadows the stdlib.
sys.path[0] = str(ROOT)

BENCHMARKS = {
    "sender_log": "bench.sender_log",
    "sender_redis": "bench.sender_redis",
    "sender_rabbitmq": "bench.sender_rabbitmq",
    "sender_pg": "bench.sender_pg",
    "sender_scaling": "bench.sender_scaling",
    "batch_create": "bench.batch_create",
    "batch_create_large": "bench.batch_create_large",
    "batch_create_remote": "bench.batch_create_remote",
    "retry_cycle": "bench.retry_cycle",
    "simulated": "bench.simulated",
    "first_delivery": "bench.first_delivery",
    "pages": "bench.http_load",
}
PG_SCHEMES = {"postgres", "postgresql", "pgsql"}
# One per run, so that two runs at once (or a run and its child run on
# PostgreSQL, bench/sender_pg.py) never drop each other's database.
PG_BENCH_DB = f"retry_admin_bench_{os.getpid()}"
SQLITE_NAME = "bench.sqlite3"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="every size ~10x smaller (smoke)")
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile each measured call")
    parser.add_argument("--fail-on-miss", action="store_true", help="exit 1 if an aim is missed")
    return parser.parse_args(argv)


# The run's own database


def _pg_admin(url: str):
    import psycopg

    parts = urlsplit(url)
    admin_url = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    return psycopg.connect(admin_url, autocommit=True)


def _pg_create(url: str) -> str:
    """Create (afresh) the bench database on the server ``url`` names;
    returns the URL pointing at it."""
    with _pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{PG_BENCH_DB}"')
    return urlunsplit(urlsplit(url)._replace(path=f"/{PG_BENCH_DB}"))


def _pg_drop(url: str) -> None:
    with _pg_admin(url) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{PG_BENCH_DB}" WITH (FORCE)')


def _remove_sqlite(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def prepare_environment() -> tuple[Path, Callable[[], None]]:
    """Point settings at the bench dir and the run's own database, before
    Django starts. Returns (bench dir, cleanup).

    The run empties its tables between benchmarks, so it never uses a
    database it did not make: a PostgreSQL ``DATABASE_URL`` only says which
    server to make one on, and an SQLite one means "SQLite", in the bench dir.
    """
    out_dir = Path(os.environ.get("RETRY_ADMIN_VAR_DIR") or ROOT / "var" / "bench").resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    os.environ["RETRY_ADMIN_VAR_DIR"] = str(out_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["QUEUE_BACKEND"] = "db"  # what these benchmarks measure

    given = os.environ.get("DATABASE_URL", "")
    scheme = urlsplit(given).scheme
    if scheme in PG_SCHEMES:
        os.environ["DATABASE_URL"] = _pg_create(given)

        def cleanup() -> None:
            from django.db import connections

            connections.close_all()
            _pg_drop(given)

        return out_dir, cleanup
    if given and not scheme.startswith("sqlite"):
        raise SystemExit(f"bench/run.py runs on SQLite or PostgreSQL, not {scheme}://")
    sqlite_path = out_dir / SQLITE_NAME
    _remove_sqlite(sqlite_path)
    os.environ["DATABASE_URL"] = f"sqlite:///{sqlite_path}"

    def cleanup() -> None:
        from django.db import connections

        connections.close_all()
        _remove_sqlite(sqlite_path)

    return out_dir, cleanup


# The table


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    return f"{value:.3f}" if value < 1 else f"{value:.2f}"


def render_table(rows: list[dict]) -> str:
    header = ["benchmark", "figure", "unit", "baseline", "ratio", "aim", "verdict"]
    right = {"figure", "baseline", "ratio"}
    lines = [header]
    for row in rows:
        ratio = row["ratio"]
        ratio = "-" if ratio is None else f"{ratio:.2f}x" if ratio < 1 else f"{ratio:.1f}x"
        lines.append(
            [
                row["benchmark"],
                _number(row["figure"]),
                row["unit"],
                _number(row["baseline"]),
                ratio,
                row["aim"] or "-",
                row["verdict"],
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]

    def fmt(line: list[str]) -> str:
        cells = [
            cell.rjust(width) if name in right else cell.ljust(width)
            for cell, width, name in zip(line, widths, header, strict=True)
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([fmt(lines[0]), rule, *(fmt(line) for line in lines[1:])])


# Running


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    out_dir, cleanup = prepare_environment()
    import django

    django.setup()
    try:
        return _run(args, out_dir)
    finally:
        cleanup()


def _run(args: argparse.Namespace, out_dir: Path) -> int:
    from importlib import import_module

    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from bench.harness import Context, Result, empty_tables

    call_command("migrate", verbosity=0)
    empty_tables()
    ctx = Context(scale=0.1 if args.quick else 1.0, out_dir=out_dir, profile=args.profile)
    names = [name for name in BENCHMARKS if not args.only or name in args.only]
    meta = {
        "database": connection.vendor,
        "database_name": str(connection.settings_dict["NAME"]),
        "queue_backend": settings.QUEUE_BACKEND,
        "quick": args.quick,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "sender_concurrency": settings.SENDER_CONCURRENCY,
        "sender_batch_size": settings.SENDER_BATCH_SIZE,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    print(f"Benchmarks on {meta['database']} with the {meta['queue_backend']} queue", flush=True)
    results: list[Result] = []
    errors = 0
    for name in names:
        print(f"- {name} ...", flush=True)
        started = time.perf_counter()
        try:
            rows = import_module(BENCHMARKS[name]).run(ctx)
        except Exception as exc:  # report it in the table, go on with the next one
            traceback.print_exc()
            errors += 1
            rows = [Result(name, 0.0, "-", verdict="ERROR", details={"error": f"{exc!r}"})]
            empty_tables()
        for row in rows:
            row.group = name
        results.extend(rows)
        print(f"  done in {time.perf_counter() - started:.1f} s", flush=True)

    as_dicts = [result.as_dict() for result in results]
    table = render_table(as_dicts)
    path = out_dir / "results.json"
    path.write_text(json.dumps({"meta": meta, "results": as_dicts}, indent=2) + "\n")
    print()
    print(table)
    print(f"\n(JSON: {path})")
    if errors:
        return 2
    if args.fail_on_miss and any(r.verdict == "MISS" for r in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
