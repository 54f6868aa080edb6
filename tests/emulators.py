"""Real local endpoints for the cloud backends, started by the tests themselves:
moto in server mode for SQS, Azurite (installed from the npm registry by
scripts/azurite.sh into .tools/) for Azure Storage Queue and Table Storage;
the machine's Redis server (started by ``scripts/services.sh redis``) is
checked, not started.

With CI=true an emulator that does not start fails the run; on a developer's
machine its tests are skipped with the reason (tests/requirements.py).

Import the fixtures where they are needed (``from tests.emulators import
azurite, moto_endpoint``).
"""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.requirements import unavailable

ROOT = Path(__file__).resolve().parent.parent
AZURITE_SCRIPT = ROOT / "scripts" / "azurite.sh"
# Azurite's well-known development account (public, documented by Microsoft).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)
AZURITE_START_SECONDS = 300  # the first start installs it from the npm registry
INSTALL = "`make install` (the dev extras in pyproject.toml)"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


# SQS


@pytest.fixture(scope="session")
def moto_endpoint():
    """An SQS endpoint URL (moto server mode on 127.0.0.1, a free port), with
    dummy credentials and a region in the environment for the test session."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        unavailable(f"moto[server] is not installed ({exc})", get_it=INSTALL)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
    except Exception as exc:  # whatever stopped it, the reason goes in the report
        unavailable(f"the moto server did not start ({exc})", get_it=INSTALL)
    host, port = server.get_host_and_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.delenv("AWS_SESSION_TOKEN", raising=False)
        env.delenv("AWS_PROFILE", raising=False)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        yield f"http://{host}:{port}"
    server.stop()


# Azure Storage


@dataclass(frozen=True)
class Azurite:
    queue_port: int
    table_port: int

    def connection_string(self, *, queue_port: int | None = None, table_port: int | None = None):
        queue_port = queue_port or self.queue_port
        table_port = table_port or self.table_port
        return (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};"
            f"AccountKey={AZURITE_KEY};"
            f"QueueEndpoint=http://127.0.0.1:{queue_port}/{AZURITE_ACCOUNT};"
            f"TableEndpoint=http://127.0.0.1:{table_port}/{AZURITE_ACCOUNT};"
        )


def start_azurite(log_path: Path) -> tuple[subprocess.Popen, Azurite]:
    """Azurite on free ports (scripts/azurite.sh installs it the first time),
    once its queue and table services answer; RuntimeError with the end of
    its log if it does not. Stop it with ``stop_process``."""
    blob, queue, table = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "AZURITE_BLOB_PORT": str(blob),
        "AZURITE_QUEUE_PORT": str(queue),
        "AZURITE_TABLE_PORT": str(table),
    }
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["bash", str(AZURITE_SCRIPT)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as one
        )
    deadline = time.monotonic() + AZURITE_START_SECONDS
    while time.monotonic() < deadline:
        if port_open(queue) and port_open(table):
            return process, Azurite(queue, table)
        if process.poll() is not None:
            break
        time.sleep(0.2)
    stop_process(process)
    raise RuntimeError(log_path.read_text(errors="replace")[-2000:] or "no output")


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory) -> Azurite:
    """Azurite's queue and table services on free ports, for the test session."""
    log_path = tmp_path_factory.mktemp("azurite") / "azurite.log"
    errors = []
    for _ in range(3):  # a free port can be taken by someone else before Azurite binds it
        try:
            process, endpoints = start_azurite(log_path)
            break
        except (OSError, RuntimeError) as exc:
            errors.append(str(exc))
    else:
        unavailable(
            f"Azurite did not start ({errors[-1]})",
            get_it="`bash scripts/azurite.sh` installs it into .tools/ from the npm registry",
        )
    try:
        yield endpoints
    finally:
        stop_process(process)


# Redis


REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_answering(url: str) -> str:
    """``url`` once its Redis server answers a PING; unavailable otherwise."""
    try:
        import redis
    except ImportError as exc:
        unavailable(f"the redis client is not installed ({exc})", get_it=INSTALL)
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        unavailable(
            f"Redis at {url} does not answer ({exc})",
            get_it="`bash scripts/services.sh redis` (or TEST_REDIS_URL pointing at one)",
        )
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server on this machine (``scripts/services.sh redis`` starts
    it; ``TEST_REDIS_URL`` points elsewhere), checked with a PING."""
    return redis_answering(REDIS_TEST_URL)


def redis_drop(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` (a test's own, so nothing else)."""
    import redis

    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


# A TCP proxy that can be cut, for outages in the middle of a run


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a local upstream port until ``cut()``,
    which closes every connection and refuses new ones; ``restore()`` listens
    again on the same port."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(32)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
            listener, self._listener = self._listener, None
        for sock in [*sockets, *([listener] if listener else [])]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._sockets.update((client, upstream))
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


# RabbitMQ (a real broker on this machine, started by scripts/services.sh)

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture(scope="session")
def rabbitmq_url() -> str:
    """The local broker's URL; skipped (failed under CI=true) if it is down."""
    try:
        import pika

        pika.BlockingConnection(pika.URLParameters(RABBITMQ_URL)).close()
    except Exception as exc:  # whatever stopped it, the reason goes in the report
        unavailable(
            f"RabbitMQ is not reachable at 127.0.0.1:5672 ({exc!r})",
            get_it="`bash scripts/services.sh rabbitmq`",
        )
    return RABBITMQ_URL


def rabbitmq_drop(backend) -> None:
    """Delete what a test's RabbitMQ backend declared (its names are unique)."""
    backend.drop_topology()
