"""Real worker processes on the test database, for crash and fault tests."""

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.requirements import unavailable


def shared_database_url(*, port: int | None = None) -> str:
    """The test database as a DATABASE_URL, for a child process to share it
    (on PostgreSQL, through ``port`` instead of the real one if given)."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "postgresql":
        auth = quote(db["USER"], safe="")
        if db["PASSWORD"]:
            auth += ":" + quote(db["PASSWORD"], safe="")
        host = db["HOST"] or "localhost"
        port = port or db["PORT"]
        return f"postgres://{auth}@{host}{f':{port}' if port else ''}/{db['NAME']}"
    unavailable(
        f"no DATABASE_URL for a child process on a {connection.vendor} test database",
        get_it="run the tests on SQLite (the default) or PostgreSQL (DATABASE_URL=postgres://…)",
    )


def start_django(
    var_dir: Path, code: str = "", *, clear: Iterable[str] = (), **env: str
) -> subprocess.CompletedProcess:
    """Start Django in a fresh interpreter (settings read anew) with the
    variables ``clear`` removed from the environment and ``env`` set, run
    ``code``, and return what it printed."""
    cleared = set(clear)
    environ = {k: v for k, v in os.environ.items() if k not in cleared}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", RETRY_ADMIN_VAR_DIR=str(var_dir))
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=Path(__file__).resolve().parent.parent,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


class Workers:
    """Starts ``manage.py <command>`` processes on the test database; kills
    what is left at teardown. Each process's output goes to its own log."""

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.tmp_path = tmp_path
        self.env = env
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        log_path = self.tmp_path / f"worker-{len(self.processes)}.log"
        merged = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": shared_database_url(),
            "RETRY_ADMIN_VAR_DIR": str(settings.VAR_DIR),
            "QUEUE_NAME": settings.QUEUE_NAME,
            **self.env,
            **env,
        }
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [sys.executable, "manage.py", *args],
                cwd=settings.BASE_DIR,
                env=merged,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        process.started_at = time.monotonic()
        process.log_path = log_path
        self.processes.append(process)
        self.logs.append(log_path)
        return process

    def full_output(self) -> str:
        return "\n".join(p.read_text() for p in self.logs if p.exists())

    def output(self) -> str:
        return "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in self.logs if p.exists())

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def wait_until(condition: Callable[[], bool], *, seconds: float, what: str, workers=None) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(
                f"timed out after {seconds} s waiting for {what}\n"
                + (workers.output() if workers else "")
            )
        time.sleep(0.05)


class RecordingReceiver:
    """A webhook endpoint on 127.0.0.1 that records every POST (its
    Idempotency-Key and the message id in its body) and answers 200 after
    ``delay`` seconds."""

    def __init__(self, *, delay: float = 0.0) -> None:
        self.delay = delay
        self.keys: Counter = Counter()
        self.mismatched: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request: nothing was delivered
                key = self.headers.get("Idempotency-Key", "")
                message_id = str(json.loads(body or b"{}").get("message_id", ""))
                with receiver._lock:
                    receiver.keys[key] += 1
                    if key != message_id:
                        receiver.mismatched.append((key, message_id))
                if receiver.delay:
                    time.sleep(receiver.delay)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 256  # many senders connect at once; never refuse one
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def deliveries(self) -> int:
        with self._lock:
            return sum(self.keys.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
