from datetime import timedelta

import pytest
from django.db import DatabaseError
from django.utils import timezone

from retry_admin.models import Heartbeat
from retry_admin.queues import QueueError
from retry_admin.queues.db import DatabaseQueue
from retry_admin.schedules import schedules_ensure
from retry_admin.services import health
from retry_admin.services.health import STALE_AFTER, heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _started_long_ago(monkeypatch):
    """The web server started long ago: a part never seen is down, not starting."""
    monkeypatch.setattr(health, "PROCESS_STARTED", timezone.now() - timedelta(hours=1))
    schedules_ensure()  # the retry cycle is scheduled (and due now)


def _beat_both():
    heartbeat("worker", started_at=(timezone.now() - timedelta(hours=1)).isoformat())
    heartbeat("scheduler")
    heartbeat("sender", received=0, sent=0)


def test_it_is_503_when_nothing_was_ever_seen(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    report = response.json()
    assert report["healthy"] is False
    assert report["status"] == "down"
    for name in ("worker", "scheduler", "sender"):
        assert report["checks"][name] == {"ok": False, "state": "down", "error": "never seen"}
    assert report["checks"]["database"]["ok"] is True
    assert report["checks"]["queue"]["ok"] is True


def test_it_is_200_once_scheduler_and_sender_beat(client):
    _beat_both()
    response = client.get("/healthz")
    assert response.status_code == 200
    report = response.json()
    assert report["healthy"] is True
    assert report["status"] == "ok"
    for name in ("database", "queue", "worker", "scheduler", "sender", "retry_cycle"):
        assert report["checks"][name]["ok"] is True
        assert report["checks"][name]["state"] == "ok"
    assert report["checks"]["scheduler"]["age_seconds"] < 5
    assert "timestamp" in report


def test_it_needs_no_login(client):
    _beat_both()
    response = client.get("/healthz", follow=False)
    assert response.status_code == 200  # not a redirect to the login page


def test_one_missing_part_makes_it_unhealthy(client):
    heartbeat("scheduler")
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["scheduler"]["ok"] is True
    assert response.json()["checks"]["sender"]["error"] == "never seen"


@pytest.mark.parametrize("name", ["worker", "scheduler", "sender"])
def test_it_is_503_when_a_heartbeat_is_stale(client, name):
    _beat_both()
    age = STALE_AFTER[name] + 60
    Heartbeat.objects.filter(name=name).update(beat_at=timezone.now() - timedelta(seconds=age))
    response = client.get("/healthz")
    assert response.status_code == 503
    check = response.json()["checks"][name]
    assert check["ok"] is False
    assert check["error"].startswith("silent for ")
    assert check["age_seconds"] >= age


def test_a_heartbeat_just_inside_the_limit_is_fine(client):
    _beat_both()
    Heartbeat.objects.filter(name="sender").update(
        beat_at=timezone.now() - timedelta(seconds=STALE_AFTER["sender"] - 30)
    )
    assert client.get("/healthz").status_code == 200


def test_it_reports_the_queue_depth(client, make_batch):
    _beat_both()
    make_batch(3)
    queue = client.get("/healthz").json()["checks"]["queue"]
    assert queue["visible"] == 3
    assert queue["in_flight"] == 0
    assert queue["delayed"] == 0
    assert queue["dead_lettered"] == 0
    assert "db queue" in queue["backend"]


def test_it_is_503_with_the_error_when_the_queue_is_unreachable(client, monkeypatch):
    _beat_both()

    def unreachable(self):
        raise QueueError("could not connect to the queue endpoint")

    monkeypatch.setattr(DatabaseQueue, "depth", unreachable)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    queue = response.json()["checks"]["queue"]
    assert queue["ok"] is False
    assert queue["error"] == "QueueError: could not connect to the queue endpoint"


def test_it_refuses_a_post(client):
    assert client.post("/healthz").status_code == 405


def test_it_is_never_cached(client):
    _beat_both()
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


def test_it_answers_503_json_when_the_tables_are_missing(client, monkeypatch):
    def missing(*args, **kwargs):
        raise DatabaseError("no such table: retry_admin_heartbeat")

    monkeypatch.setattr(Heartbeat.objects, "filter", missing)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "no such table" in response.json()["checks"]["database"]["error"]
