"""The alerts page: every rule with its state, value and threshold (and where
the threshold comes from), the history with an empty state, and changing a
rule (Super Admin only), with a refused threshold kept in the form and
explained."""

import pytest

from retry_admin import tasks
from retry_admin.locks import lock_acquire
from retry_admin.models import AlertRule
from retry_admin.schedules import schedule_specs
from retry_admin.services.alerts import alerts_evaluate

pytestmark = pytest.mark.django_db


def test_it_lists_every_rule_and_says_nothing_has_fired(viewer_client):
    html = viewer_client.get("/alerts/").content.decode()

    for label in (
        "DLQ depth",
        "Permanent failures per hour",
        "Retry success rate",
        "Sender silent",
        "Retry cycle overdue",
    ):
        assert f'<th scope="row">{label}</th>' in html
    assert "not checked yet" in html
    assert "setting ALERT_DLQ_DEPTH" in html
    assert 'data-testid="alerts-empty"' in html
    assert 'data-testid="no-channels"' in html
    assert 'name="threshold"' not in html  # a viewer cannot change them
    assert 'aria-current="page">Alerts<' in html


def test_it_shows_a_firing_rule_and_its_history(super_client, settings, make_dead_lettered):
    settings.ALERT_EMAIL_TO = ["ops@example.com"]
    make_dead_lettered(2)
    alerts_evaluate()

    html = super_client.get("/alerts/").content.decode()

    assert "firing" in html
    assert "DLQ depth: 2 entries in the DLQ (≥ threshold 1)" in html
    assert "email: sent" in html
    assert "Alerts go to <strong>email</strong> (ops@example.com)" in html
    assert 'data-testid="alerts-empty"' not in html


def test_a_super_admin_sets_a_threshold_and_turns_a_rule_off(super_client, super_admin):
    response = super_client.post("/alerts/dlq_depth/", {"threshold": "25", "enabled": "on"})
    assert (response.status_code, response["Location"]) == (302, "/alerts/")
    super_client.post("/alerts/sender_silent/", {"threshold": ""})  # enabled unticked

    rules = {r.kind: r for r in AlertRule.objects.all()}
    assert (rules["dlq_depth"].threshold, rules["dlq_depth"].enabled) == (25.0, True)
    assert (rules["sender_silent"].threshold, rules["sender_silent"].enabled) == (None, False)
    html = super_client.get("/alerts/").content.decode()
    assert f"set in the console by {super_admin.get_username()}" in html
    assert ">off</span>" in html


def test_a_refused_threshold_keeps_what_was_typed_and_says_why(super_client):
    response = super_client.post("/alerts/retry_success_rate/", {"threshold": "120"})

    html = response.content.decode()
    assert response.status_code == 400
    assert "The threshold must be between 0 and 100. Nothing was changed." in html
    assert 'value="120"' in html
    assert 'aria-invalid="true"' in html
    assert not AlertRule.objects.filter(threshold__isnull=False).exists()


@pytest.mark.parametrize("typed", ["", "abc", "1e400", "<script>", "9" * 500])
def test_no_input_answers_5xx(super_client, typed):
    response = super_client.post("/alerts/dlq_depth/", {"threshold": typed})
    assert response.status_code in (302, 400)


def test_a_system_admin_may_not_change_a_rule(system_client):
    assert system_client.post("/alerts/dlq_depth/", {"threshold": "3"}).status_code == 403
    assert not AlertRule.objects.exists()


def test_an_unknown_rule_is_404(super_client):
    assert super_client.post("/alerts/no_such_rule/", {"threshold": "3"}).status_code == 404


def test_a_schedule_evaluates_them_every_minute_under_a_lock(make_dead_lettered):
    assert ("alerts", "retry_admin.tasks.evaluate_alerts", 1) in {
        (s.name, s.func, s.minutes) for s in schedule_specs()
    }
    make_dead_lettered(1)
    assert tasks.evaluate_alerts() == {"events": ["dlq_depth fired"]}
    assert tasks.evaluate_alerts() == {"events": []}
    lock_acquire("alerts", ttl_seconds=60)
    assert "skipped" in tasks.evaluate_alerts()
