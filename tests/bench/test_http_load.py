"""The pages benchmark's working copy opens as the server opens it.

The kept seeded SQLite file is stored in rollback-journal mode (one
self-contained file to copy). gunicorn's workers open their first connections
at once, each running the settings' ``init_command`` (``PRAGMA
journal_mode=WAL``): on a rollback-journal file two such switches deadlock and
SQLite answers one "database is locked" at once, without waiting out the busy
timeout. The sign-in then answered 503 and the benchmark failed (CI, stop 17).
"""

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from bench.http_load import Store

ROOT = Path(__file__).resolve().parents[2]


def _sqlite_options(path: Path) -> dict:
    """The connection options the product's settings give a SQLite file,
    whatever database this suite runs on."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import json; from django.conf import settings;"
            " print(json.dumps(settings.DATABASES['default']['OPTIONS']))",
        ],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": f"sqlite:///{path}",
        },
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def _open_at_once(path: str, options: dict, count: int) -> list[str]:
    """``count`` connections opened together with ``options``, as the
    server's threads do: the errors they met."""
    start = threading.Barrier(count)
    errors: list[str] = []

    def connect() -> None:
        start.wait()
        try:
            conn = sqlite3.connect(path, timeout=options["timeout"])
            try:
                conn.executescript(options["init_command"])
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except Exception as exc:  # reported by the test, not lost in a thread
            errors.append(repr(exc))

    threads = [threading.Thread(target=connect) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def _seeded(store: Store) -> None:
    """A stand-in for the seeded file, kept the way ``Store`` keeps it."""
    conn = sqlite3.connect(store._sqlite(store.name))
    with conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE logs (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany("INSERT INTO logs (body) VALUES (?)", [("x" * 100,)] * 1000)
    conn.close()
    store._keep()


def test_a_working_copy_is_already_in_wal_mode(tmp_path):
    store = Store(tmp_path, 0, f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    _seeded(store)
    url = store.copy("pages-work")

    conn = sqlite3.connect(url.removeprefix("sqlite:///"))
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    finally:
        conn.close()


def test_a_working_copy_opens_on_many_connections_at_once(tmp_path):
    store = Store(tmp_path, 0, f"sqlite:///{tmp_path / 'unused.sqlite3'}")
    _seeded(store)

    options = _sqlite_options(tmp_path / "pages-work.sqlite3")
    assert "journal_mode=WAL" in options["init_command"]

    for attempt in range(20):
        path = store.copy("pages-work").removeprefix("sqlite:///")
        assert _open_at_once(path, options, 8) == [], f"attempt {attempt}"
