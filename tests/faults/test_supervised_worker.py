"""`make run`'s supervisor (scripts/supervise.py over the Procfile), through
real processes: gunicorn, qcluster and run_sender on the test database.
SIGKILL to the worker's whole process group brings a new worker back within
seconds, /healthz reports the new one healthy, and it runs a cycle the API
queues."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from django.conf import settings

from retry_admin.models import RetryRun
from retry_admin.schedules import schedules_ensure
from retry_admin.services.health import heartbeat
from tests.api.conftest import bearer
from tests.emulators import free_port
from tests.processes import shared_database_url, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def _healthz(base: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return 0, {}


@pytest.fixture
def supervised(tmp_path):
    port = free_port()
    log_path = tmp_path / "supervise.log"
    env = {
        **os.environ,
        "PATH": f"{settings.BASE_DIR / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": shared_database_url(),
        "RETRY_ADMIN_VAR_DIR": str(settings.VAR_DIR),
        "QUEUE_NAME": settings.QUEUE_NAME,
        "BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
        "Q_WORKERS": "1",
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "scripts/supervise.py", "Procfile", "--backoff", "0.5"],
            cwd=settings.BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    process.log_path = log_path
    process.base = f"http://127.0.0.1:{port}"
    yield process
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _healthy_worker(supervised, *, not_cluster: int | None = None) -> dict:
    found = {}

    def healthy() -> bool:
        status, report = _healthz(supervised.base)
        worker = report.get("checks", {}).get("worker", {})
        if status == 200 and worker.get("cluster_pid") not in (None, not_cluster):
            found.update(worker)
            return True
        return False

    wait_until(
        healthy,
        seconds=60,
        what=f"/healthz 200 with a new worker\n{supervised.log_path.read_text()[-3000:]}",
    )
    return found


def test_a_killed_worker_group_comes_back_and_healthz_is_healthy_again(supervised, super_admin):
    schedules_ensure()
    # qcluster's scheduler first ticks ~30 s after it starts: stand in for
    # its last tick so the test waits for what it is about (the worker).
    heartbeat("scheduler")
    before = _healthy_worker(supervised)

    os.killpg(os.getpgid(before["cluster_pid"]), signal.SIGKILL)
    killed_at = time.monotonic()

    after = _healthy_worker(supervised, not_cluster=before["cluster_pid"])
    assert time.monotonic() - killed_at < 30
    assert after["started_at"] > before["started_at"]
    assert supervised.poll() is None  # the supervisor and the others carried on
    log = supervised.log_path.read_text()
    assert "supervise: worker exited (signal 9)" in log
    assert log.count("supervise: web started") == 1
    assert log.count("supervise: sender started") == 1

    # The new worker does work: the API queues a cycle (202) and it runs.
    response = bearer(super_admin).post("/api/campaigns/retry-failed-messages")
    assert response.status_code == 202, response.content
    wait_until(lambda: RetryRun.objects.filter(trigger="api").exists(), seconds=30, what="the run")

    supervised.send_signal(signal.SIGTERM)
    assert supervised.wait(timeout=30) == 0
    assert "supervise: stopped" in supervised.log_path.read_text()
