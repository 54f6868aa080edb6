"""Automatic DLQ reprocessing (DLQ_AUTO_REPLAY): off by default, its schedule
only while it is on, and the DLQ page saying whether it runs, when it last ran
and runs next, and per entry how many automatic replays it has had. Its bad
values: tests/test_settings.py; its behaviour on each transport:
tests/queues/test_dlq_contract.py."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule

from retry_admin import tasks
from retry_admin.locks import lock_acquire
from retry_admin.models import Heartbeat
from retry_admin.services.dlq_auto import dlq_auto_replay
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.django_db


def test_it_is_off_by_default_and_then_does_nothing(settings, make_dead_lettered):
    make_dead_lettered(1)
    assert settings.DLQ_AUTO_REPLAY is False
    report = dlq_auto_replay(now=timezone.now() + timedelta(days=30))
    assert (report.enabled, report.replayed) == (False, 0)
    assert not Heartbeat.objects.filter(name="dlq-auto-replay").exists()


def test_its_schedule_exists_only_while_it_is_on(settings):
    settings.DLQ_AUTO_REPLAY = True
    settings.DLQ_AUTO_REPLAY_INTERVAL_MINUTES = 7
    call_command("setup_retry_admin", verbosity=0)
    schedule = Schedule.objects.get(name="dlq-auto-replay")
    assert (schedule.func, schedule.minutes) == ("retry_admin.tasks.auto_replay_dlq", 7)

    settings.DLQ_AUTO_REPLAY = False
    call_command("setup_retry_admin", verbosity=0)
    assert not Schedule.objects.filter(name="dlq-auto-replay").exists()


def test_the_task_runs_under_its_own_lock(settings, make_dead_lettered):
    settings.DLQ_AUTO_REPLAY = True
    settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES = 0
    make_dead_lettered(2)

    assert tasks.auto_replay_dlq()["replayed"] == 2

    lock_acquire("dlq-auto-replay", ttl_seconds=60)
    assert "skipped" in tasks.auto_replay_dlq()


# The DLQ page


def test_the_dlq_page_says_it_is_off(super_client, make_dead_lettered):
    make_dead_lettered(1)
    html = super_client.get("/dlq/").content.decode()
    assert "Automatic reprocessing: off" in html
    assert "DLQ_AUTO_REPLAY=true" in html
    assert "Automatic replays</th>" not in html


def test_the_dlq_page_shows_its_runs_and_each_entry_s_replays(
    settings, super_client, make_dead_lettered
):
    settings.DLQ_AUTO_REPLAY = True
    settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES = 0
    settings.DLQ_AUTO_REPLAY_MAX_ATTEMPTS = 3
    call_command("setup_retry_admin", verbosity=0)
    make_dead_lettered(1)
    html = super_client.get("/dlq/").content.decode()
    assert "Automatic reprocessing: on" in html
    assert "Not run yet." in html
    assert 'data-testid="dlq-auto-next"' in html  # the schedule's next run
    assert "0 of 3" in html

    assert dlq_auto_replay().replayed == 1
    receive_and_drop()
    sender_drain(until_empty=True)  # back in the DLQ
    html = super_client.get("/dlq/").content.decode()

    assert 'data-testid="dlq-auto-last"' in html
    assert "replayed 1, 0 waiting, 0 out of replays, 0 not ours" in html
    assert '<th scope="col">Automatic replays</th>' in html
    assert "1 of 3" in html and "next from" in html
