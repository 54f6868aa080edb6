"""seed_demo fills the dead-letter queue the way production does: a worker
that receives messages and dies before recording an outcome, more than
QUEUE_MAX_RECEIVES times, so the sender moves them to the DLQ."""

import pytest
from django.core.management import call_command

from retry_admin.models import Batch, MessageEvent, MessageLog, Status
from retry_admin.queues import get_backend


@pytest.fixture
def demo_var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path
    settings.SIMULATED_LATENCY_MS = 0
    return tmp_path


@pytest.mark.django_db(transaction=True)
def test_seed_demo_leaves_dead_letters_in_the_dlq(demo_var_dir, settings, capsys):
    settings.QUEUE_MAX_RECEIVES = 3
    call_command("seed_demo")

    night = Batch.objects.get(name="Demo: Night shift (a crashing worker)")
    dead = MessageLog.objects.filter(batch=night, status=Status.DEAD_LETTERED)
    assert dead.count() == night.total > 0
    assert get_backend().dlq_depth() == night.total
    # Through the sender: received one time too many, with the event it writes.
    entries = get_backend().dlq_peek(limit=100)
    assert all(e.receive_count > settings.QUEUE_MAX_RECEIVES for e in entries), entries
    assert (
        MessageEvent.objects.filter(message__in=dead, kind=MessageEvent.Kind.DEAD_LETTERED).count()
        == night.total
    )
    assert "dead-lettered=" in capsys.readouterr().out
