"""Alerts ("Alert on failures", the retry design's best practices; docs/alerts.md).

Five rules, one row each (``AlertRule``): DLQ depth, permanent failures in
the last hour, retry success rate, sender silent, retry cycle overdue. A
schedule evaluates them every minute. A rule whose condition starts to hold
*fires* once: one notification by e-mail (ALERT_EMAIL_TO, Django's mail) and
webhook (ALERT_WEBHOOK_URL), one ``AlertEvent``, one audit entry; while it
keeps holding nothing more is sent. When it stops holding the rule
*resolves*, with a "resolved" notification. A measurement that cannot be
taken (the queue is down) leaves the rule as it was.
"""

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from retry_admin import selectors
from retry_admin.locks import lock_is_held
from retry_admin.models import AlertEvent, AlertRule, AuditEvent, Heartbeat, MessageLog, RetryRun
from retry_admin.models import Status as MessageStatus
from retry_admin.models.alerts import SPECS, RuleSpec
from retry_admin.queues import QueueError, get_backend
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.services.audit import audit_record
from retry_admin.services.retry import CYCLE_LOCK

logger = logging.getLogger(__name__)

Kind = AlertRule.Kind
State = AlertRule.State


class AlertRuleInvalid(ValueError):
    """A threshold the rule cannot take; the message says what it can."""


# Measurements: each returns the rule's value now, or None when there is
# nothing to judge (no retried message has finished, no sender ever reported).


def _dlq_depth(now: datetime) -> float | None:
    return float(get_backend().dlq_depth())


def _permanent_failures(now: datetime) -> float | None:
    return float(
        MessageLog.objects.filter(
            status=MessageStatus.PERMANENTLY_FAILED, updated_at__gte=now - timedelta(hours=1)
        ).count()
    )


def _retry_success_rate(now: datetime) -> float | None:
    rate = selectors.status_counts()["retry_success_rate"]
    return None if rate is None else round(rate * 100, 2)


def _sender_silent(now: datetime) -> float | None:
    # "sender" (the scheduled drains) and any long-running sender's own beat.
    last = (
        Heartbeat.objects.filter(name__startswith="sender")
        .order_by("-beat_at")
        .values_list("beat_at", flat=True)
        .first()
    )
    return None if last is None else round((now - last).total_seconds() / 60, 1)


def _cycle_overdue(now: datetime) -> float | None:
    """Minutes past the moment a cycle was due (0 when none is late): the
    schedule's next run, or the last run's start plus the interval, whichever
    is earlier; never while a cycle runs."""
    if lock_is_held(CYCLE_LOCK):
        return 0.0
    due = []
    upcoming = next_run(RETRY_CYCLE)
    if upcoming is not None:
        due.append(upcoming)
    last = RetryRun.objects.filter(dry_run=False).values_list("started_at", flat=True).first()
    if last is not None:
        due.append(last + timedelta(hours=settings.MESSAGE_RETRY_INTERVAL_HOURS))
    if not due:
        return None  # never scheduled nor run: /healthz says so
    return round(max(0.0, (now - min(due)).total_seconds() / 60), 1)


MEASURES: dict[str, Callable[[datetime], float | None]] = {
    Kind.DLQ_DEPTH: _dlq_depth,
    Kind.PERMANENT_FAILURES: _permanent_failures,
    Kind.RETRY_SUCCESS_RATE: _retry_success_rate,
    Kind.SENDER_SILENT: _sender_silent,
    Kind.CYCLE_OVERDUE: _cycle_overdue,
}


# Rules


def alert_rules_ensure() -> list[AlertRule]:
    """Every rule's row, created on first use; in ``Kind`` order."""
    existing = {rule.kind: rule for rule in AlertRule.objects.all()}
    missing = [AlertRule(kind=kind) for kind in Kind.values if kind not in existing]
    if missing:
        AlertRule.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {rule.kind: rule for rule in AlertRule.objects.all()}
    return [existing[kind] for kind in Kind.values]


def holds(kind: str, value: float | None, threshold: float) -> bool:
    if value is None:
        return False
    return value >= threshold if SPECS[kind].above else value < threshold


def describe(kind: str, value: float | None, threshold: float) -> str:
    label = Kind(kind).label
    if value is None:
        return f"{label}: nothing to measure"
    sign = "≥" if value >= threshold else "<"
    return f"{label}: {value:g} {SPECS[kind].measure} ({sign} threshold {threshold:g})"


def alert_rule_update(
    *, kind: str, threshold: str, enabled: bool, user: AbstractBaseUser
) -> AlertRule:
    """Set a rule's threshold (blank: back to its setting) and whether it is
    on; audited. Raises ``AlertRuleInvalid`` for a threshold it cannot take.
    A firing rule turned off resolves at once."""
    spec = SPECS[kind]
    value = _parse_threshold(spec, threshold.strip())
    with transaction.atomic():
        rule = next(r for r in alert_rules_ensure() if r.kind == kind)
        rule = AlertRule.objects.select_for_update().get(pk=rule.pk)
        before = {"threshold": rule.threshold, "enabled": rule.enabled}
        rule.threshold, rule.enabled = value, enabled
        rule.updated_by, rule.updated_at = user, timezone.now()
        rule.save()
        audit_record(
            user=user,
            action=AuditEvent.Action.ALERT_RULE,
            target=kind,
            details={"before": before, "after": {"threshold": value, "enabled": enabled}},
        )
    if not enabled and rule.state == State.FIRING:
        _change(rule, State.OK, rule.value, "turned off by " + user.get_username())
    return rule


def _parse_threshold(spec: RuleSpec, raw: str) -> float | None:
    if raw == "":
        return None
    try:
        value = float(raw)
    except ValueError:
        raise AlertRuleInvalid(f"“{raw[:40]}” is not a number.") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise AlertRuleInvalid("The threshold must be a finite number.")
    if spec.whole and value != int(value):
        raise AlertRuleInvalid("The threshold must be a whole number.")
    if not spec.minimum <= value <= spec.maximum:
        raise AlertRuleInvalid(
            f"The threshold must be between {spec.minimum:g} and {spec.maximum:g}."
        )
    return value


# Evaluation


def alerts_evaluate(*, now: datetime | None = None) -> list[AlertEvent]:
    """Evaluate every rule that is on; returns the events it caused (fired
    or resolved). A rule that keeps firing causes none."""
    now = now or timezone.now()
    events = []
    for rule in alert_rules_ensure():
        if not rule.enabled:
            continue
        try:
            value = MEASURES[rule.kind](now)
        except QueueError as exc:
            logger.warning("Alert %s not evaluated, the queue is unavailable: %s", rule.kind, exc)
            continue
        threshold = rule.effective_threshold
        firing = holds(rule.kind, value, threshold)
        rule.value, rule.evaluated_at = value, now
        AlertRule.objects.filter(pk=rule.pk).update(value=value, evaluated_at=now)
        if firing != (rule.state == State.FIRING):
            state = State.FIRING if firing else State.OK
            event = _change(rule, state, value, describe(rule.kind, value, threshold))
            if event is not None:
                events.append(event)
    return events


AUDITED = {
    AlertEvent.Kind.FIRED: AuditEvent.Action.ALERT_FIRED,
    AlertEvent.Kind.RESOLVED: AuditEvent.Action.ALERT_RESOLVED,
}


def _change(rule: AlertRule, state: str, value: float | None, text: str) -> AlertEvent | None:
    """The rule fires or resolves: its state, one event, one audit entry, and
    the notifications (after the state is committed, so a slow mail server
    never holds a transaction). None if another process changed it first."""
    now = timezone.now()
    kind = AlertEvent.Kind.FIRED if state == State.FIRING else AlertEvent.Kind.RESOLVED
    with transaction.atomic():
        changed = (
            AlertRule.objects.filter(pk=rule.pk)
            .exclude(state=state)
            .update(state=state, state_since=now)
        )
        if not changed:
            return None
        rule.state, rule.state_since = state, now
        event = AlertEvent.objects.create(
            rule=rule, kind=kind, value=value, threshold=rule.effective_threshold, text=text[:500]
        )
        audit_record(
            user=None,
            action=AUDITED[kind],
            target=rule.kind,
            details={"value": value, "threshold": event.threshold, "text": event.text},
        )
    event.delivery = _notify(event)
    AlertEvent.objects.filter(pk=event.pk).update(delivery=event.delivery)
    log = logger.error if kind == AlertEvent.Kind.FIRED else logger.warning
    log("Alert %s %s: %s", rule.kind, kind, text)
    return event


def _notify(event: AlertEvent) -> dict[str, str]:
    """Send the event by e-mail and webhook where configured; channel ->
    "sent" or why not. A failure is recorded and logged, never raised."""
    word = "FIRING" if event.kind == AlertEvent.Kind.FIRED else "RESOLVED"
    subject = f"[Retry Admin] {word}: {event.text}"
    delivery: dict[str, str] = {}
    if settings.ALERT_EMAIL_TO:
        try:
            send_mail(
                subject,
                f"{word} at {event.created_at.isoformat()}\n\n{event.text}\n",
                settings.ALERT_EMAIL_FROM[0],
                settings.ALERT_EMAIL_TO,
            )
            delivery["email"] = "sent"
        except Exception as exc:  # any SMTP or socket error: recorded, the rest goes on
            logger.exception("Alert e-mail not sent")
            delivery["email"] = f"not sent: {exc}"[:300]
    if settings.ALERT_WEBHOOK_URL:
        payload = {
            "alert": event.rule.kind,
            "state": "firing" if event.kind == AlertEvent.Kind.FIRED else "resolved",
            "value": event.value,
            "threshold": event.threshold,
            "text": event.text,
            "at": event.created_at.isoformat(),
        }
        try:
            response = requests.post(
                settings.ALERT_WEBHOOK_URL,
                json=payload,
                timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            delivery["webhook"] = "sent"
        except requests.RequestException as exc:
            logger.error("Alert webhook not delivered: %s", exc)
            delivery["webhook"] = f"not sent: {exc}"[:300]
    return delivery
