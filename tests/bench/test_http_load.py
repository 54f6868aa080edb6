"""The pages benchmark's working copy opens as the server opens it.

The kept seeded SQLite file is stored in rollback-journal mode (one
self-contained file to copy). gunicorn's workers open their first connections
at once, each running the settings' ``init_command`` (``PRAGMA
journal_mode=WAL``): on a rollback-journal file two such switches deadlock and
SQLite answers one "database is locked" at once, without waiting out the busy
timeout. The sign-in then answered 503 and the benchmark failed (CI, stop 17).
"""

import sqlite3
import threading

from django.conf import settings

from bench.http_load import Store


def _open_at_once(path, count: int) -> list[str]:
    """``count`` connections opened together, as the server's threads do:
    the errors they met."""
    options = settings.DATABASES["default"]["OPTIONS"]
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
        except sqlite3.Error as exc:
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

    for attempt in range(20):
        path = store.copy("pages-work").removeprefix("sqlite:///")
        assert _open_at_once(path, 8) == [], f"attempt {attempt}"
