"""The long-running sender (services/runner.py) on the remote transports: it
delivers, then waits the way the transport allows (SQS long-polls in the
receive; the others poll every SENDER_POLL_SECONDS), and never spins."""

import pytest

from retry_admin.models import Heartbeat, MessageLog, Status
from retry_admin.services import runner
from retry_admin.services.health import RUNNER_BEAT
from retry_admin.services.runner import sender_run, wake_mode
from tests.queues.conftest import point_at

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    ("backend", "wait", "mode"),
    [("sqs", 5, "long-poll"), ("sqs", 0, "poll"), ("redis", 5, "poll"), ("azure", 5, "poll")],
)
def test_each_transport_wakes_its_own_way(settings, backend, wait, mode):
    settings.SQS_WAIT_SECONDS = wait
    assert wake_mode(backend) == mode


@pytest.mark.parametrize("backend", ["redis", "sqs"])
def test_it_delivers_then_idles_without_spinning(
    request, settings, make_batch, monkeypatch, backend
):
    point_at(settings, request, backend)
    settings.SENDER_POLL_SECONDS = 0.3
    from retry_admin.queues import get_backend

    get_backend().ensure()
    make_batch(5)
    drains = []
    real = runner.sender_drain
    monkeypatch.setattr(runner, "sender_drain", lambda **kw: drains.append(1) or real(**kw))

    report = sender_run(seconds=1.5)

    assert report.sent == 5
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.SENT}
    # Idle for ~1.5 s at one receive per 0.3 s: a handful of drains, not thousands.
    assert 2 <= len(drains) <= 8, len(drains)
    beat = Heartbeat.objects.get(name=RUNNER_BEAT).details
    assert (beat["state"], beat["wakes_on"], beat["sent"]) == ("stopped", "poll", 5)
