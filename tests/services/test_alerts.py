"""Alert rules (services/alerts.py): each rule fires once when its condition
starts to hold and resolves once when it clears, by e-mail (Django's locmem
outbox) and webhook (a real local HTTP server), recorded as events and in the
audit log; a failed delivery is recorded, never raised."""

import json
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from django.core import mail
from django.utils import timezone
from django_q.models import Schedule

from retry_admin.models import (
    AlertEvent,
    AlertRule,
    AuditEvent,
    Heartbeat,
    MessageLog,
    RetryRun,
    Status,
)
from retry_admin.services.alerts import AlertRuleInvalid, alert_rule_update, alerts_evaluate
from retry_admin.services.dlq import dlq_purge
from tests.channels.local_http import serving

pytestmark = pytest.mark.django_db


@dataclass
class Hook:
    url: str = ""
    status: int = 200
    posts: list[dict] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        hook: Hook = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        hook.posts.append(json.loads(self.rfile.read(length)))
        self.send_response(hook.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format, *args):
        pass


@pytest.fixture
def hook(settings):
    hook = Hook()
    with serving(_Handler, hook) as base_url:
        hook.url = settings.ALERT_WEBHOOK_URL = f"{base_url}/alerts"
        settings.ALERT_EMAIL_TO = ["ops@example.com"]
        yield hook


def _fired(kind: str) -> list[str]:
    return list(
        AlertEvent.objects.filter(rule__kind=kind).order_by("id").values_list("kind", flat=True)
    )


def test_dlq_depth_fires_once_and_resolves_once(hook, settings, make_dead_lettered):
    settings.ALERT_DLQ_DEPTH = 2
    make_dead_lettered(2)

    first = alerts_evaluate()
    again = alerts_evaluate()  # still 2 in the DLQ: no second alert

    assert [(e.rule.kind, e.kind) for e in first] == [("dlq_depth", "fired")]
    assert again == []
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject.startswith("[Retry Admin] FIRING: DLQ depth: 2 entries")
    assert mail.outbox[0].to == ["ops@example.com"]
    assert [(p["alert"], p["state"], p["value"], p["threshold"]) for p in hook.posts] == [
        ("dlq_depth", "firing", 2.0, 2.0)
    ]
    assert AlertRule.objects.get(kind="dlq_depth").state == "firing"
    assert AlertEvent.objects.get().delivery == {"email": "sent", "webhook": "sent"}

    dlq_purge(ids=None, user=None)
    resolved = alerts_evaluate()

    assert [(e.rule.kind, e.kind) for e in resolved] == [("dlq_depth", "resolved")]
    assert alerts_evaluate() == []
    assert [p["state"] for p in hook.posts] == ["firing", "resolved"]
    assert mail.outbox[1].subject.startswith("[Retry Admin] RESOLVED: DLQ depth: 0 entries")
    assert _fired("dlq_depth") == ["fired", "resolved"]
    audited = AuditEvent.objects.filter(action__in=["alert_fired", "alert_resolved"])
    assert sorted(audited.values_list("action", "target")) == [
        ("alert_fired", "dlq_depth"),
        ("alert_resolved", "dlq_depth"),
    ]


def test_a_console_threshold_wins_over_the_setting(hook, settings, make_dead_lettered, super_admin):
    settings.ALERT_DLQ_DEPTH = 1
    make_dead_lettered(2)
    alert_rule_update(kind="dlq_depth", threshold="5", enabled=True, user=super_admin)

    assert alerts_evaluate() == []

    alert_rule_update(kind="dlq_depth", threshold="", enabled=True, user=super_admin)  # the setting
    assert [e.kind for e in alerts_evaluate()] == ["fired"]
    assert AuditEvent.objects.filter(action="alert_rule", target="dlq_depth").count() == 2


def test_a_firing_rule_turned_off_resolves(hook, settings, make_dead_lettered, super_admin):
    make_dead_lettered(1)
    alerts_evaluate()
    alert_rule_update(kind="dlq_depth", threshold="", enabled=False, user=super_admin)

    assert _fired("dlq_depth") == ["fired", "resolved"]
    assert "turned off by" in AlertEvent.objects.order_by("-id").first().text
    assert alerts_evaluate() == []  # off: not evaluated


@pytest.mark.parametrize(
    ("kind", "typed", "says"),
    [
        ("dlq_depth", "lots", "not a number"),
        ("dlq_depth", "0", "between 1 and"),
        ("dlq_depth", "2.5", "whole number"),
        ("retry_success_rate", "101", "between 0 and 100"),
        ("sender_silent", "nan", "finite"),
        ("cycle_overdue", "-1", "between 0 and"),
    ],
)
def test_a_threshold_it_cannot_take_is_refused(super_admin, kind, typed, says):
    with pytest.raises(AlertRuleInvalid, match=says):
        alert_rule_update(kind=kind, threshold=typed, enabled=True, user=super_admin)
    assert not AuditEvent.objects.filter(action="alert_rule").exists()


def test_permanent_failures_in_the_last_hour(hook, settings, make_batch):
    settings.ALERT_PERMANENT_FAILURES_PER_HOUR = 3
    batch = make_batch(4)
    logs = MessageLog.objects.filter(batch=batch)
    logs.update(status=Status.PERMANENTLY_FAILED, updated_at=timezone.now())
    MessageLog.objects.filter(pk=logs.first().pk).update(
        updated_at=timezone.now() - timedelta(hours=2)  # too long ago to count
    )

    [event] = alerts_evaluate()

    assert (event.rule.kind, event.value) == ("permanent_failures", 3.0)


def test_retry_success_rate_fires_below_its_threshold(hook, settings, make_batch):
    settings.ALERT_RETRY_SUCCESS_RATE = 50
    batch = make_batch(4)
    logs = list(MessageLog.objects.filter(batch=batch).values_list("pk", flat=True))
    MessageLog.objects.filter(pk__in=logs[:3]).update(
        status=Status.PERMANENTLY_FAILED, enqueue_source="retry"
    )
    MessageLog.objects.filter(pk=logs[3]).update(status=Status.SENT, enqueue_source="retry")

    [event] = alerts_evaluate()

    assert (event.rule.kind, event.kind, event.value) == ("retry_success_rate", "fired", 25.0)
    MessageLog.objects.filter(pk__in=logs[:2]).update(status=Status.SENT)
    assert [(e.rule.kind, e.kind) for e in alerts_evaluate()] == [
        ("retry_success_rate", "resolved")
    ]


def test_the_sender_silent_for_too_long(hook, settings):
    settings.ALERT_SENDER_SILENT_MINUTES = 10
    now = timezone.now()
    Heartbeat.objects.create(name="sender", beat_at=now - timedelta(minutes=4))
    assert alerts_evaluate(now=now) == []

    [event] = alerts_evaluate(now=now + timedelta(minutes=7))

    assert (event.rule.kind, event.value) == ("sender_silent", 11.0)


def test_the_retry_cycle_overdue(hook, settings):
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 6
    settings.ALERT_CYCLE_OVERDUE_MINUTES = 30
    now = timezone.now()
    RetryRun.objects.create(trigger="schedule", started_at=now - timedelta(hours=6, minutes=10))
    Schedule.objects.create(
        name="retry-cycle",
        func="retry_admin.tasks.run_retry_cycle",
        schedule_type=Schedule.MINUTES,
        minutes=360,
        next_run=now - timedelta(minutes=10),
    )
    assert alerts_evaluate(now=now) == []  # 10 minutes late: within the threshold

    [event] = alerts_evaluate(now=now + timedelta(minutes=25))

    assert (event.rule.kind, event.value) == ("cycle_overdue", 35.0)


def test_a_failed_delivery_is_recorded_not_raised(settings, make_dead_lettered, caplog):
    settings.ALERT_WEBHOOK_URL = "http://127.0.0.1:9/nowhere"  # nothing listens on port 9
    settings.ALERT_WEBHOOK_TIMEOUT_SECONDS = 2
    make_dead_lettered(1)

    [event] = alerts_evaluate()

    assert event.delivery["webhook"].startswith("not sent: ")
    assert "Alert webhook not delivered" in caplog.text
    assert AlertRule.objects.get(kind="dlq_depth").state == "firing"


def test_a_refused_webhook_is_recorded(hook, make_dead_lettered):
    hook.status = 500
    make_dead_lettered(1)
    [event] = alerts_evaluate()
    assert event.delivery["email"] == "sent"
    assert event.delivery["webhook"].startswith("not sent: 500")


def test_with_nowhere_configured_it_only_records(make_dead_lettered):
    make_dead_lettered(1)
    [event] = alerts_evaluate()
    assert event.delivery == {}
    assert mail.outbox == []
