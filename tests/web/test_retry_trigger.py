"""The console's "Run retry cycle now" says what happened: queued, already
running, or no worker to run it."""

import pytest
from django_q.models import OrmQ

from retry_admin.locks import lock_acquire
from retry_admin.services.retry import CYCLE_LOCK

pytestmark = pytest.mark.django_db


def test_the_console_says_when_no_worker_will_run_it(super_client):
    response = super_client.post("/retry-cycle/", {"next": "/health/"}, follow=True)
    assert "Retry cycle not queued. No worker is running to pick it up" in response.content.decode()
    assert not OrmQ.objects.exists()


def test_the_console_says_when_a_cycle_is_running(super_client, live_worker):
    lock_acquire(CYCLE_LOCK, ttl_seconds=60)
    response = super_client.post("/retry-cycle/", {"next": "/health/"}, follow=True)
    assert "A retry cycle is already running: nothing new was queued." in response.content.decode()
    assert not OrmQ.objects.exists()
