"""The core engine's journeys on every backend: a batch is sent; failures go
through the retry cycle and are sent; poison lands in the DLQ, is replayed
and is sent. Only QUEUE_BACKEND (and where it points) changes."""

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from retry_admin.channels import reset_channels
from retry_admin.models import MessageLog, RetryRun, Status
from retry_admin.queues import get_backend
from retry_admin.services.dlq import dlq_purge, dlq_replay
from retry_admin.services.health import health_check
from retry_admin.services.manual_retry import message_retry
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain
from tests.queues.conftest import BACKENDS, point_at

pytestmark = pytest.mark.django_db


def statuses(batch) -> dict[str, int]:
    counts: dict[str, int] = {}
    for status in MessageLog.objects.filter(batch=batch).values_list("status", flat=True):
        counts[status] = counts.get(status, 0) + 1
    return counts


def test_a_batch_is_sent(queue_backend, make_batch):
    batch = make_batch(24)
    report = sender_drain(until_empty=True)
    assert report.sent == 24
    assert statuses(batch) == {Status.SENT: 24}
    assert queue_backend.depth().total == 0
    assert queue_backend.dlq_depth() == 0


def test_failures_go_through_the_retry_cycle_and_are_sent(queue_backend, make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    batch = make_batch(6, channel="simulated")
    assert sender_drain(until_empty=True).failed == 6
    assert statuses(batch) == {Status.FAILED: 6}

    settings.SIMULATED_TRANSIENT_RATE = 0.0
    reset_channels()  # the simulated channel reads its rates once
    MessageLog.objects.update(updated_at=timezone.now() - timedelta(hours=3))
    run = retry_cycle_run(trigger=RetryRun.Trigger.COMMAND)
    assert (run.selected, run.requeued, run.error) == (6, 6, "")
    assert sender_drain(until_empty=True).sent == 6
    assert statuses(batch) == {Status.SENT: 6}
    assert set(MessageLog.objects.values_list("retry_count", flat=True)) == {1}
    assert queue_backend.depth().total == 0


def test_poison_lands_in_the_dlq_is_replayed_and_sent(queue_backend, make_batch, settings):
    settings.QUEUE_MAX_RECEIVES = 1
    queue_backend.ensure()
    batch = make_batch(3)
    received = queue_backend.receive(10, visibility_timeout=30)  # a worker died holding them
    queue_backend.release([m.handle for m in received])
    assert sender_drain(until_empty=True).dead_lettered == 3
    assert statuses(batch) == {Status.DEAD_LETTERED: 3}
    assert queue_backend.dlq_depth() == 3

    result = dlq_replay(ids=None, user=None)
    assert (result.replayed, result.unreadable, result.failed) == (3, {}, {})
    assert queue_backend.dlq_depth() == 0
    assert statuses(batch) == {Status.PENDING: 3}
    assert sender_drain(until_empty=True).sent == 3
    assert statuses(batch) == {Status.SENT: 3}


def test_one_click_retry_of_a_dead_lettered_message_replays_it(
    queue_backend, make_batch, settings, super_admin
):
    settings.QUEUE_MAX_RECEIVES = 1
    queue_backend.ensure()
    make_batch(2)
    received = queue_backend.receive(10, visibility_timeout=30)
    queue_backend.release([m.handle for m in received])
    sender_drain(until_empty=True)
    target = MessageLog.objects.order_by("id").first()

    result = message_retry(message_ids=[target.pk], user=super_admin)
    assert result.dlq_replayed == 1
    assert queue_backend.dlq_depth() == 1
    sender_drain(until_empty=True)
    target.refresh_from_db()
    assert target.status == Status.SENT


def test_purging_the_dlq_makes_its_messages_permanently_failed(
    queue_backend, make_batch, settings, super_admin
):
    settings.QUEUE_MAX_RECEIVES = 1
    queue_backend.ensure()
    batch = make_batch(2)
    received = queue_backend.receive(10, visibility_timeout=30)
    queue_backend.release([m.handle for m in received])
    sender_drain(until_empty=True)

    assert dlq_purge(ids=None, user=super_admin) == 2
    assert queue_backend.dlq_depth() == 0
    assert statuses(batch) == {Status.PERMANENTLY_FAILED: 2}


@pytest.mark.parametrize("name", BACKENDS)
def test_setup_creates_the_queues_and_health_reports_them(request, settings, name):
    point_at(settings, request, name)
    out = io.StringIO()
    call_command("setup_retry_admin", stdout=out, stderr=out)
    assert "queue ready: " in out.getvalue(), out.getvalue()
    get_backend().send(["one"])
    queue = health_check()["checks"]["queue"]
    assert queue["ok"], queue
    assert queue["visible"] == 1 and queue["dead_lettered"] == 0
