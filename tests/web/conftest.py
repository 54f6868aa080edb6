"""Fixtures for the console: signed-in clients per role, and for the browser
tests Debian's Chromium, a sender running beside the live server, and
screenshots kept in the test run's output directory."""

import copy
import os
import threading
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client

from retry_admin.channels import reset_channels
from retry_admin.services.sender import sender_drain
from tests.emulators import free_port
from tests.requirements import unavailable

CHROMIUM = "/usr/bin/chromium"


# Clients per role


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def super_client(super_admin):
    return _client(super_admin)


@pytest.fixture
def system_client(system_admin):
    return _client(system_admin)


@pytest.fixture
def viewer_client(viewer):
    return _client(viewer)


# The browser


def require_browser(path: str = CHROMIUM) -> None:
    """A missing browser fails under CI=true and skips, saying why, elsewhere."""
    if not os.path.exists(path):
        unavailable(
            f"the browser {path} is missing",
            get_it="`bash scripts/browser.sh` (`make test` runs it first)",
        )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium (scripts/browser.sh installs it; `make test` runs that
    first)."""
    require_browser()
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(scope="session")
def base_url(pytestconfig) -> str | None:
    """pytest-playwright's base_url (``--base-url``, else the ``base_url`` ini
    value), as a module-level fixture: the plugin's own fallback is a
    session-scoped fixture defined as an instance method, which pytest
    deprecates (PytestRemovedIn10Warning on every browser test run)."""
    return pytestconfig.getoption("--base-url") or pytestconfig.getini("base_url") or None


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1360, "height": 900}}


@pytest.fixture
def shot(output_path):
    """``shot(page, "name")`` saves a full-page screenshot under the run's
    output directory (pytest-playwright's --output, test-results/ by default)."""
    folder = Path(output_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


@pytest.fixture
def sign_in(live_server):
    def sign_in(page, user, password: str | None = None) -> None:
        page.goto(f"{live_server.url}/accounts/login/")
        page.fill("input[name=username]", user.get_username())
        page.fill("input[name=password]", password or f"pw-{user.get_username()}")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")

    return sign_in


@pytest.fixture
def dialogs(page):
    """Every JavaScript dialog (alert, confirm) the page opens: XSS would show here."""
    seen: list[str] = []

    def record(dialog):
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return seen


# A worker beside the live server


class SenderThread:
    """``run_sender --until-empty``'s loop in a thread of the test process,
    polling the live test database while the browser watches."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            sender_drain(poll_seconds=0.1, should_stop=self._stop.is_set)
        except BaseException as exc:  # surfaced by stop(), so a crash fails the test
            self.error = exc
        finally:
            connection.close()

    def start(self) -> "SenderThread":
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="test-sender", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None
        if self.error is not None:
            raise self.error


@pytest.fixture
def sender():
    thread = SenderThread()
    yield thread
    thread.stop()


@pytest.fixture
def failing_channel(settings):
    """The simulated channel, failing some messages (permanently and not), fast."""
    settings.SIMULATED_LATENCY_MS = 20
    settings.SIMULATED_PERMANENT_RATE = 0.25
    settings.SIMULATED_TRANSIENT_RATE = 0.2
    settings.SIMULATED_SEED = 7
    settings.SENDER_BATCH_SIZE = 5
    settings.SENDER_CONCURRENCY = 1
    reset_channels()
    return settings


# A database that cannot be reached


@pytest.fixture
def database_unreachable(transactional_db):
    """``cut()`` points the default connection at a database that cannot be
    reached (a closed port on PostgreSQL, a file in a missing directory on
    SQLite), as in an outage; the real one is back after the test."""
    saved = copy.deepcopy(connection.settings_dict)

    def cut() -> None:
        connection.close()
        if connection.vendor == "sqlite":
            connection.settings_dict["NAME"] = "/nonexistent-retry-admin/outage.sqlite3"
        else:
            connection.settings_dict.update(HOST="127.0.0.1", PORT=str(free_port()))
            connection.settings_dict.setdefault("OPTIONS", {})["connect_timeout"] = 2

    yield cut
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


# The batch form


RECIPIENTS_CSV = "recipient,name\nada@example.com,Ada\ngrace@example.com,Grace\n"


def batch_form(template, **fields) -> dict:
    """The batch form's fields as a browser sends them (a fresh idempotency
    key each time, no recipients unless given)."""
    return {
        "name": "November welcome",
        "template": template.pk,
        "channel": "log",
        "recipients": "",
        "idempotency_key": uuid.uuid4().hex,
        **fields,
    }
