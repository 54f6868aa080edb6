import os
import pydoc

import pytest
from django.contrib.auth.models import Group
from django.test import override_settings

from retry_admin.channels import reset_channels
from retry_admin.models import Batch, MessageLog, Status, Template
from retry_admin.queues import get_backend, reset_backends
from retry_admin.roles import SUPER_ADMIN, SYSTEM_ADMIN, ensure_groups
from retry_admin.services.batches import RecipientRow, batch_create
from retry_admin.services.sender import sender_drain
from retry_admin.web import figures

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(config, items):
    """PostgreSQL-only tests run when DATABASE_URL points at PostgreSQL; on the
    SQLite run they are deselected (CI runs the suite on both)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        return
    kept, dropped = [], []
    for item in items:
        (dropped if item.get_closest_marker("postgres") else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session", autouse=True)
def _static_root(tmp_path_factory):
    """STATIC_ROOT is where collectstatic writes (``make run``). WhiteNoise
    reads it whenever a test client builds the middleware and warns when the
    directory is missing; the tests serve static files through the finders
    (live_server), so they get an empty STATIC_ROOT of their own instead."""
    with override_settings(STATIC_ROOT=str(tmp_path_factory.mktemp("staticfiles"))):
        yield


@pytest.fixture(autouse=True)
def _figures_computed_per_request(settings):
    """The console serves shared figures (the overview's, a batch list's
    progress, failure groups) refreshed in the background and keyed by ids
    that another test's rolled-back rows may have had; tests read their own
    transaction's data, so each request computes its own."""
    settings.CONSOLE_FIGURES_FRESH_SECONDS = 0
    figures.clear_all()
    yield
    figures.clear_all()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """The user fixtures hash a password; PBKDF2 costs most of a second each."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fast_channels(settings):
    """Tests get a simulated channel without latency unless they ask for it."""
    settings.SIMULATED_LATENCY_MS = 0
    reset_channels()
    reset_backends()
    yield
    reset_channels()
    reset_backends()


def _user(django_user_model, username, group=None, **extra):
    user = django_user_model.objects.create_user(
        username=username, password="pw-" + username, is_staff=True, **extra
    )
    if group:
        ensure_groups()
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def super_admin(db, django_user_model):
    return _user(django_user_model, "super", SUPER_ADMIN)


@pytest.fixture
def system_admin(db, django_user_model):
    return _user(django_user_model, "sysadmin", SYSTEM_ADMIN)


@pytest.fixture
def viewer(db, django_user_model):
    return _user(django_user_model, "viewer")


@pytest.fixture
def template(db):
    return Template.objects.create(name="Greeting", body="Hello {{ name }}!")


def make_rows(count: int, *, prefix: str = "user") -> list[RecipientRow]:
    return [
        RecipientRow(line=i + 1, recipient=f"{prefix}{i}@example.com", context={"name": f"N{i}"})
        for i in range(count)
    ]


def run_queued_tasks() -> list[tuple[str, object]]:
    """Run, as the django-q2 cluster would, every task queued on the ORM
    broker (then forget them); returns (function, result) for each."""
    from django_q.models import OrmQ

    done = []
    for queued in OrmQ.objects.order_by("id"):
        task = queued.task
        done.append((task["func"], pydoc.locate(task["func"])(*task["args"], **task["kwargs"])))
        queued.delete()
    return done


@pytest.fixture
def make_batch(template, django_capture_on_commit_callbacks):
    """Create a batch through the service and run its after-commit dispatch
    (the background task it queues, on transports outside the database)."""

    def make(count: int = 5, *, channel: str = "log", **kwargs) -> Batch:
        with django_capture_on_commit_callbacks(execute=True):
            result = batch_create(
                name=kwargs.pop("name", "Test batch"),
                template=kwargs.pop("template", template),
                recipients=kwargs.pop("recipients", None) or make_rows(count),
                channel=channel,
                **kwargs,
            )
        run_queued_tasks()
        return result.batch

    return make


@pytest.fixture
def batch_with_failures(make_batch):
    """A batch whose 4 messages are failed, long enough ago to be retried."""
    from datetime import timedelta

    from django.utils import timezone

    batch = make_batch(4)
    MessageLog.objects.filter(batch=batch).update(
        status=Status.FAILED,
        last_error="Upstream gateway timeout after 30 ms",
        updated_at=timezone.now() - timedelta(hours=3),
        enqueued_at=timezone.now() - timedelta(hours=3),
    )
    from retry_admin.models import QueueMessage

    QueueMessage.objects.all().delete()
    return batch


def receive_and_drop(times: int = 1) -> int:
    """Workers that received every visible message and died before recording
    an outcome: the messages come back with one more receive each. Returns
    how many the last round received."""
    backend = get_backend()
    received = []
    for _ in range(times):
        received = backend.receive(1000, visibility_timeout=30)
        assert received, "expected messages on the queue"
        backend.release([m.handle for m in received])
    return len(received)


@pytest.fixture
def make_dead_lettered(make_batch, settings):
    """A batch whose messages reached the DLQ the way it happens in production:
    received more than QUEUE_MAX_RECEIVES times without an outcome."""

    def make(count: int = 3, **kwargs) -> Batch:
        settings.QUEUE_MAX_RECEIVES = 1
        batch = make_batch(count, **kwargs)
        assert receive_and_drop() == count
        assert sender_drain(until_empty=True).dead_lettered == count
        return batch

    return make


@pytest.fixture
def live_worker(db, monkeypatch):
    """A django-q2 worker that reported in (and stays fresh for the test), so
    the retry trigger queues a cycle instead of answering 503."""
    from retry_admin.services import health

    monkeypatch.setitem(health.STALE_AFTER, health.WORKER, 3600)
    health.heartbeat(health.WORKER)


@pytest.fixture
def fuzz_world(batch_with_failures, make_dead_lettered, live_worker) -> dict:
    """Something for every page and endpoint to act on: failed messages (to
    retry) and dead letters (to replay and purge), with ids for paths."""
    make_dead_lettered(3)
    message = MessageLog.objects.filter(batch=batch_with_failures).values_list("id", flat=True)
    return {"batch": batch_with_failures.pk, "message": str(message.first())}


@pytest.fixture
def workers(tmp_path):
    """Real ``manage.py`` processes on the test database, killed at teardown."""
    from tests.processes import Workers

    pool = Workers(tmp_path, env={"SENDER_POLL_SECONDS": "0.1"})
    yield pool
    pool.stop_all()
