"""Pages over real HTTP at 1,000,000 message logs (100,000 with ``quick``):
p95 per page with the server idle and while the sender drains, and the
sender's msg/s with and without that page load.

The server is the one ``make run`` starts (gunicorn, ``config.wsgi``, the
workers and threads of scripts/run.sh); the sender is ``sender_drain`` in a
process of its own (what ``manage.py run_sender`` runs); the load is
``CLIENTS`` signed-in keep-alive HTTP clients in this process, each asking
for the pages in turn, timing from request to the last byte of the answer.

1. Baseline: the same pages on a database with the batches and no messages.
2. Idle: the pages on the seeded database, nothing else running.
3. Loaded: the same, while a sender process drains the backlog (the seed's
   pending messages plus ``BACKLOG`` more) for ``DRAIN_SECONDS``.
4. The sender alone on a fresh copy of the same database for as long: its
   msg/s without the page load, the baseline of its msg/s under load.

Seeding is raw bulk inserts (bench/pages.py) into a database kept in the
bench dir (``pages-seeded-<size>.sqlite3``, or a PostgreSQL database of that
name used as a template) and reused while its fingerprint (the seed's
``SEED_VERSION``, the size, Django, django-q2) matches, migrated forward
when only the migrations changed; each run works on a copy, so the seeded one
never changes.

Alone: ``.venv/bin/python bench/run.py --only pages [--quick]``.
"""

import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
FULL_SIZE = 1_000_000
QUICK_SIZE = 20_000
BACKLOG = 100_000  # queued for the sender beyond the seed's pending (in proportion with quick)
DRAIN_SECONDS = 15.0  # how long the sender drains, under load and alone (5 s with quick)
CLIENTS = 2  # concurrent page clients (scripts/run.sh serves with 2 workers)
ROUNDS = 20  # requests of each page per client, baseline and idle
WARMUP = 2
AIM_IDLE_MS = 50.0
AIM_LOADED_MS = 100.0
SEED_VERSION = 1  # bump when the seed's content changes: cached databases are re-seeded
USER = "pages-http-bench"
PASSWORD = "pages-http-bench-password"
# The batch page timed: "pages bench 100" of bench/pages.py's seed_batches,
# the 101st row of a new table (a wrong id answers 404 and fails the run).
BATCH_PAGE = 101
PG_SCHEMES = {"postgres", "postgresql", "pgsql"}


def pages(targets: dict) -> list[tuple[str, str]]:
    return [
        ("GET /", "/"),
        ("GET /messages/?status=failed", "/messages/?status=failed"),
        ("GET /failures/", "/failures/"),
        ("GET /batches/", "/batches/"),
        ("GET /batches/N/", f"/batches/{targets['batch']}/"),
        ("GET /dlq/", "/dlq/"),
    ]


# The seeded database, kept between runs


def fingerprint(size: int) -> str:
    """``seed:schema``: what the seeded rows depend on (when it changes, seed
    again), then the migrations (when only they change, migrate the kept
    database forward, as a deployment would)."""
    import django
    import django_q

    seed = hashlib.sha256(f"{SEED_VERSION}:{size}:{django.__version__}".encode())
    seed.update(getattr(django_q, "VERSION", ("?",)).__repr__().encode())
    schema = hashlib.sha256()
    for path in sorted((ROOT / "retry_admin" / "migrations").glob("*.py")):
        schema.update(path.name.encode() + path.read_bytes())
    return f"{seed.hexdigest()[:16]}:{schema.hexdigest()[:16]}"


def _on_one_connection(path: Path, *statements: str) -> None:
    """Run ``statements`` on a SQLite file through one connection, closed
    after: a journal-mode switch needs the file to itself."""
    conn = sqlite3.connect(path)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


class Store:
    """Where the seeded database lives and how a working copy is made."""

    def __init__(self, out_dir: Path, size: int, database_url: str) -> None:
        self.out_dir = out_dir
        self.size = size
        self.name = f"pages-seeded-{size}"
        self.postgres = urlsplit(database_url).scheme in PG_SCHEMES
        self.server_url = database_url
        self.print = fingerprint(size)

    # SQLite: a file and its fingerprint beside it; PostgreSQL: a database
    # whose comment is its fingerprint.
    def _sqlite(self, name: str) -> Path:
        return self.out_dir / f"{name}.sqlite3"

    def _pg_url(self, name: str) -> str:
        return urlunsplit(urlsplit(self.server_url)._replace(path=f"/{name}"))

    def _pg_admin(self):
        import psycopg

        admin = urlunsplit(
            urlsplit(self.server_url)._replace(scheme="postgresql", path="/postgres")
        )
        return psycopg.connect(admin, autocommit=True)

    def seeded_url(self) -> str:
        if self.postgres:
            return self._pg_url(self.name)
        return f"sqlite:///{self._sqlite(self.name)}"

    def kept(self) -> str:
        """The fingerprint of the kept database ("" for none)."""
        if self.postgres:
            with self._pg_admin() as conn:
                row = conn.execute(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = %s",
                    [self.name],
                ).fetchone()
            return (row and row[0]) or ""
        stamp = self._sqlite(self.name).with_suffix(".json")
        if not stamp.exists() or not self._sqlite(self.name).exists():
            return ""
        return json.loads(stamp.read_text()).get("fingerprint", "")

    def _keep(self) -> None:
        """Stamp the seeded database with the fingerprint it now has."""
        if self.postgres:
            with self._pg_admin() as conn:
                conn.execute(f"COMMENT ON DATABASE \"{self.name}\" IS '{self.print}'")
            return
        path = self._sqlite(self.name)
        # One self-contained file to copy.
        _on_one_connection(path, "PRAGMA wal_checkpoint(TRUNCATE)", "PRAGMA journal_mode=DELETE")
        path.with_suffix(".json").write_text(json.dumps({"fingerprint": self.print}) + "\n")

    def prepare(self) -> float | None:
        """Seed the database unless a fresh one is kept; returns the seconds
        the logs took to load (with their indexes), ``None`` when the kept one
        was reused."""
        kept = self.kept()
        if kept == self.print:
            return None
        only_migrations = kept.split(":")[0] == self.print.split(":")[0]
        if only_migrations and _child("migrate", self.seeded_url(), self.out_dir).returncode == 0:
            self._keep()
            return None
        self.drop(self.name)
        if self.postgres:
            with self._pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        done = _child("seed", self.seeded_url(), self.out_dir, str(self.size))
        if done.returncode != 0:
            raise RuntimeError(f"seeding failed: {done.stderr[-2000:]}")
        seconds = json.loads(done.stdout.strip().splitlines()[-1])["seconds"]
        self._keep()
        return seconds

    def copy(self, name: str) -> str:
        """A working copy of the seeded database, by URL."""
        self.drop(name)
        if self.postgres:
            with self._pg_admin() as conn:
                conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.name}"')
            return self._pg_url(name)
        shutil.copyfile(self._sqlite(self.name), self._sqlite(name))
        # Into WAL on one connection first, as ``make run``'s migrate leaves a
        # database: the server's threads each switch a rollback-journal file
        # to WAL as they connect, and two switches at once deadlock ("database
        # is locked" at once, not after the busy timeout).
        _on_one_connection(self._sqlite(name), "PRAGMA journal_mode=WAL")
        return f"sqlite:///{self._sqlite(name)}"

    def drop(self, name: str) -> None:
        if self.postgres:
            with self._pg_admin() as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self._sqlite(name)}{suffix}").unlink(missing_ok=True)
        if name != self.name:
            return
        self._sqlite(name).with_suffix(".json").unlink(missing_ok=True)


# Child processes: seeding, the sender, the web server


def _env(database_url: str, var_dir: Path) -> dict:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "RETRY_ADMIN_VAR_DIR": str(var_dir),
        "QUEUE_BACKEND": "db",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)  # the web process must not need a broker
    return env


def _child(
    command: str, database_url: str, var_dir: Path, *args: str
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bench.http_load", command, *args],
        cwd=ROOT,
        env=_env(database_url, var_dir),
        capture_output=True,
        text=True,
        timeout=3600,
    )


def _seed_child(size: int) -> None:
    """In the child: migrate, then the batches, the logs, the backlog and the user."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from bench import pages as seeding

    call_command("migrate", verbosity=0)
    seeding.seed_batches()
    started = time.perf_counter()
    if size:
        with _bulk_load():
            seeding.seed(size)
            _seed_backlog(BACKLOG * size // FULL_SIZE)
    seconds = time.perf_counter() - started
    get_user_model().objects.create_superuser(USER, password=PASSWORD)
    print(json.dumps({"seconds": seconds}))


@contextmanager
def _bulk_load() -> Iterator[None]:
    """On SQLite, load the message logs without their secondary indexes and
    build those afterwards (one sort each instead of a million random
    inserts), without syncing a database that is thrown away on a crash."""
    from django.db import connection

    from retry_admin.models import MessageLog

    if connection.vendor != "sqlite":
        yield
        return
    table = MessageLog._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA cache_size=-262144")  # 256 MiB
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s"
            " AND sql IS NOT NULL",
            [table],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _, sql in indexes:
                cursor.execute(sql)
            cursor.execute("ANALYZE")


def _seed_backlog(count: int) -> None:
    """``count`` pending messages on the queue, in a batch of their own (what
    ``batch_create`` leaves for the sender), written raw."""
    import random
    from datetime import UTC, datetime

    from django.db import transaction

    from bench.pages import Seeder, _uuid7
    from retry_admin.envelope import Envelope
    from retry_admin.models import Batch, MessageLog, QueueMessage, Template

    rng = random.Random(12)
    seeder = Seeder()
    template = Template.objects.get(name="Bench pages")
    batch = Batch.objects.create(name="pages drain", template=template, channel="log", total=count)
    now_ms = int(time.time() * 1000)
    at = seeder._ts(datetime.now(UTC))
    logs, queue = [], []
    for i in range(count):
        pk = _uuid7(now_ms, rng)
        recipient = f"drain{i}@example.com"
        logs.append(
            (
                seeder._uuid(pk),
                batch.pk,
                recipient,
                json.dumps({"name": f"D {i}", "code": str(i)}),
                "pending",
                0,
                0,
                0,
                0,
                "",
                "",
                "queue",
                at,
                at,
                at,
            )
        )
        body = Envelope(pk, batch.pk, recipient, template.pk, 1).encode()
        queue.append(("batch-messages", body, False, 0, at, 0, None, at, None, ""))
    with transaction.atomic():
        seeder.insert(
            MessageLog._meta.db_table,
            [
                "id",
                "batch_id",
                "recipient",
                "context",
                "status",
                "retry_count",
                "receive_count",
                "attempt_count",
                "dead_letter_count",
                "last_error",
                "error_signature",
                "enqueue_source",
                "enqueued_at",
                "created_at",
                "updated_at",
            ],
            logs,
        )
        seeder.insert(
            QueueMessage._meta.db_table,
            [
                "queue",
                "body",
                "dead",
                "priority",
                "visible_at",
                "receive_count",
                "receipt",
                "created_at",
                "dead_at",
                "dead_reason",
            ],
            queue,
        )


def _drain_child(seconds: float) -> None:
    """In the child: the sender for ``seconds`` (or until the queue is
    empty); prints its figures."""
    from retry_admin.models import QueueMessage
    from retry_admin.services.sender import sender_drain

    queued = QueueMessage.objects.filter(dead=False).count()
    started = time.perf_counter()
    report = sender_drain(seconds=seconds, until_empty=True)
    elapsed = time.perf_counter() - started
    left = QueueMessage.objects.filter(dead=False).count()
    print(
        json.dumps(
            {
                "queued": queued,
                "received": report.received,
                "sent": report.sent,
                "seconds": elapsed,
                "left": left,
            }
        )
    )


class Server:
    """gunicorn on a free port, as scripts/run.sh starts it."""

    def __init__(self, database_url: str, var_dir: Path) -> None:
        from tests.emulators import free_port

        self.port = free_port()
        # The console's shared figures are kept per database path, and every
        # run's copy has the same path: a server on a new copy starts with none
        # (not the figures of the database the path held before).
        shutil.rmtree(var_dir / "console-figures", ignore_errors=True)
        self.log = open(var_dir / "gunicorn.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "gunicorn"),
                "config.wsgi:application",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                os.environ.get("WEB_WORKERS", "2"),
                "--threads",
                "4",
            ],
            cwd=ROOT,
            env=_env(database_url, var_dir),
            stdout=self.log,
            stderr=self.log,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"gunicorn did not start (see {self.log.name})") from None
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """CPU time (user + system) gunicorn and its workers have used so
        far: request threads and background figure refreshes alike."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # a process that ended meanwhile
                continue
            if self.process.pid in (int(stat.parent.name), int(fields[1])):
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.log.close()


# The load


class Client:
    """One signed-in browser: a keep-alive connection, the session cookie."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self._sign_in()

    def _request(self, method: str, path: str, body: str | None = None, headers=None):
        headers = {
            "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
            **(headers or {}),
        }
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()  # the server closed a kept-alive connection
                if attempt == 2:
                    raise
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, data

    def _sign_in(self) -> None:
        status, page = self._request("GET", "/accounts/login/")
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        if status != 200 or not token:
            raise RuntimeError(f"login page: {status}")
        form = urlencode(
            {"username": USER, "password": PASSWORD, "csrfmiddlewaretoken": token.group(1).decode()}
        )
        status, _ = self._request(
            "POST",
            "/accounts/login/",
            body=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Referer": f"http://127.0.0.1:{self.port}/accounts/login/",
            },
        )
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"sign-in answered {status}")

    def get(self, path: str) -> float:
        """Milliseconds from sending the request to the answer's last byte."""
        started = time.perf_counter()
        status, _ = self._request("GET", path)
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            raise RuntimeError(f"GET {path}: {status}")
        return elapsed


@dataclass
class Samples:
    by_page: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: int = 0  # the requests timed (not the sign-in and warm-up)
    server_cpu: float = 0.0  # seconds of the server's CPU while they ran

    @property
    def cpu_per_request(self) -> float:
        """Milliseconds of the server's CPU per request, every page alike."""
        return 1000 * self.server_cpu / self.requests

    def p95(self, name: str) -> float:
        ordered = sorted(self.by_page[name])
        return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def load(
    server: "Server",
    targets: list[tuple[str, str]],
    *,
    rounds: int | None = None,
    until: threading.Event | None = None,
) -> Samples:
    """``CLIENTS`` clients asking for every page in turn: ``rounds`` times
    each, or until ``until`` is set (at least once each); with the server's
    CPU time while they ran (from when every client has signed in and warmed
    up: a sign-in hashes a password, most of a second)."""
    samples = Samples({name: [] for name, _ in targets})
    lock = threading.Lock()
    warm = threading.Barrier(CLIENTS + 1)

    def client(offset: int) -> None:
        try:
            browser = Client(server.port)
            for _ in range(WARMUP):
                for _, path in targets:
                    browser.get(path)
            warm.wait()
            done = 0
            while (rounds is not None and done < rounds) or (
                until is not None and (done == 0 or not until.is_set())
            ):
                for i in range(len(targets)):
                    name, path = targets[(i + offset) % len(targets)]
                    ms = browser.get(path)
                    with lock:
                        samples.by_page[name].append(ms)
                        samples.requests += 1
                done += 1
        except Exception as exc:  # reported by the caller, not lost in a thread
            samples.errors.append(f"{exc!r}")
            warm.abort()

    threads = [threading.Thread(target=client, args=(i * 3,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    try:
        warm.wait()
        cpu_before = server.cpu_seconds()
    except threading.BrokenBarrierError:  # a client failed: its error is raised below
        cpu_before = 0.0
    for thread in threads:
        thread.join()
    samples.server_cpu = server.cpu_seconds() - cpu_before
    if samples.errors:
        raise RuntimeError(f"page load failed: {samples.errors[0]}")
    return samples


def _drain(database_url: str, var_dir: Path, seconds: float) -> dict:
    """The sender in a process of its own for ``seconds``: its figures, once
    checked that every message it took was delivered."""
    done = _child("drain", database_url, var_dir, str(seconds))
    if done.returncode != 0:
        raise RuntimeError(f"sender process failed: {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if (
        figures["sent"] != figures["received"]
        or figures["queued"] - figures["left"] != figures["sent"]
    ):
        raise RuntimeError(f"the sender did not deliver its backlog: {figures}")
    return figures


# The benchmark


def _page_rows(
    targets: list[tuple[str, str]],
    samples: Samples,
    base: Samples,
    when: str,
    aim: float,
    what: str,
) -> list:
    from bench.harness import Result

    return [
        Result(
            f"pages: {name} p95 {when}",
            samples.p95(name),
            "ms",
            baseline=base.p95(name),
            ratio=samples.p95(name) / base.p95(name),
            aim=f"<= {aim:.0f} ms",
            details={
                "samples": len(samples.by_page[name]),
                "clients": CLIENTS,
                "baseline": f"the same page, {what}",
            },
        ).judge(lambda figure, _ratio: figure <= aim)
        for name, _ in targets
    ]


def measure(ctx) -> list:
    from django.db import connection

    from bench.harness import Result

    size = QUICK_SIZE if ctx.scale < 1 else FULL_SIZE
    drain_seconds = DRAIN_SECONDS if size >= FULL_SIZE else DRAIN_SECONDS / 3
    rounds = ROUNDS if size >= FULL_SIZE else ROUNDS // 4
    work = ctx.out_dir / "pages-http"
    work.mkdir(exist_ok=True)
    url = os.environ["DATABASE_URL"]
    store, empty = Store(ctx.out_dir, size, url), Store(ctx.out_dir, 0, url)
    seeded_in = store.prepare()
    empty.prepare()
    targets = pages({"batch": BATCH_PAGE})

    rows: list[Result] = []
    try:
        server = Server(empty.copy("pages-work"), work)
        try:
            baseline = load(server, targets, rounds=rounds)
        finally:
            server.stop()

        work_url = store.copy("pages-work")
        server = Server(work_url, work)
        try:
            idle = load(server, targets, rounds=rounds)
            drained = threading.Event()
            loaded_figures: dict = {}

            def sender() -> None:
                try:
                    loaded_figures.update(_drain(work_url, work, drain_seconds))
                finally:
                    drained.set()

            thread = threading.Thread(target=sender)
            thread.start()
            loaded = load(server, targets, until=drained)
            thread.join()
        finally:
            server.stop()
        if "sent" not in loaded_figures:
            raise RuntimeError("the sender under page load failed (see its error above)")
        alone = _drain(store.copy("pages-work"), work, drain_seconds)
    finally:
        store.drop("pages-work")
        connection.close()

    # Each phase: its samples, its baseline, what that baseline is, the p95 aim.
    phases = [
        (f"idle, {size:,} logs", idle, baseline, "no messages", AIM_IDLE_MS),
        ("while the sender drains", loaded, idle, "idle", AIM_LOADED_MS),
    ]
    for when, samples, base, what, aim in phases:
        rows += _page_rows(targets, samples, base, when, aim, what)
    for when, samples, base, what, _aim in phases:
        rows.append(
            Result(
                f"pages: server CPU per request {when}",
                samples.cpu_per_request,
                "ms",
                baseline=base.cpu_per_request,
                ratio=samples.cpu_per_request / base.cpu_per_request,
                details={
                    "requests": samples.requests,
                    "server_cpu_s": round(samples.server_cpu, 2),
                    "baseline": f"the same, {what}",
                    "what": "gunicorn and its workers' user + system CPU while the timed"
                    " requests ran, background figure refreshes included: steadier than"
                    " a p95 on a shared machine",
                },
            )
        )
    under = loaded_figures["sent"] / loaded_figures["seconds"]
    solo = alone["sent"] / alone["seconds"]
    rows.append(
        Result(
            "pages: sender msg/s while the pages load",
            under,
            "msg/s",
            baseline=solo,
            ratio=under / solo,
            details={
                "loaded": loaded_figures,
                "alone": alone,
                "baseline": "the sender alone, same backlog",
            },
        )
    )
    if seeded_in is not None:
        rows.append(
            Result(
                f"pages: seeding {size:,} logs (raw inserts, then indexes; kept for next runs)",
                size / seeded_in,
                "rows/s",
            )
        )
    return rows


def run(ctx) -> list:
    """``make bench`` entry point (bench/run.py)."""
    return measure(ctx)


if __name__ == "__main__":  # the child processes: seed SIZE | drain
    sys.path[0] = str(ROOT)
    import django

    django.setup()
    if sys.argv[1] == "seed":
        _seed_child(int(sys.argv[2]))
    elif sys.argv[1] == "migrate":
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        # As a freshly seeded database has (_bulk_load): statistics for every
        # index, the ones a migration added included. Without them SQLite may
        # plan a list on a new partial index and sort it (350 ms, not 1 ms).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    elif sys.argv[1] == "drain":
        _drain_child(float(sys.argv[2]))
    else:
        raise SystemExit(f"unknown command {sys.argv[1]!r}")
