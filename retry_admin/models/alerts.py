"""Alert rules and what they did (services/alerts.py, docs/alerts.md)."""

from dataclasses import dataclass

from django.conf import settings
from django.db import models
from django.utils import timezone


class AlertRule(models.Model):
    """One rule per kind. Its threshold is the setting named in ``KINDS``
    unless someone set another in the console (``threshold`` not null); its
    state says whether it is firing now, so that a condition that holds for
    hours sends one alert, and one "resolved" when it clears."""

    class Kind(models.TextChoices):
        DLQ_DEPTH = "dlq_depth", "DLQ depth"
        PERMANENT_FAILURES = "permanent_failures", "Permanent failures per hour"
        RETRY_SUCCESS_RATE = "retry_success_rate", "Retry success rate"
        SENDER_SILENT = "sender_silent", "Sender silent"
        CYCLE_OVERDUE = "cycle_overdue", "Retry cycle overdue"

    class State(models.TextChoices):
        OK = "ok", "OK"
        FIRING = "firing", "Firing"

    kind = models.CharField(max_length=30, choices=Kind.choices, unique=True)
    enabled = models.BooleanField(default=True)
    threshold = models.FloatField(null=True, blank=True)  # None: the setting's
    state = models.CharField(max_length=10, choices=State.choices, default=State.OK)
    state_since = models.DateTimeField(null=True, blank=True)
    value = models.FloatField(null=True, blank=True)  # at the last evaluation
    evaluated_at = models.DateTimeField(null=True, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind"]

    def __str__(self) -> str:
        return f"alert {self.kind} ({self.state})"

    @property
    def spec(self) -> "RuleSpec":
        return SPECS[self.kind]

    @property
    def effective_threshold(self) -> float:
        """The console's threshold, else the setting's."""
        if self.threshold is not None:
            return self.threshold
        return float(getattr(settings, self.spec.setting))


@dataclass(frozen=True)
class RuleSpec:
    setting: str  # the default threshold's setting
    measure: str  # what the value is, with its unit
    above: bool  # fires when the value reaches the threshold (else: falls below it)
    minimum: float
    maximum: float
    whole: bool  # the threshold is a whole number


SPECS: dict[str, RuleSpec] = {
    AlertRule.Kind.DLQ_DEPTH: RuleSpec(
        "ALERT_DLQ_DEPTH", "entries in the DLQ", True, 1, 10**9, True
    ),
    AlertRule.Kind.PERMANENT_FAILURES: RuleSpec(
        "ALERT_PERMANENT_FAILURES_PER_HOUR",
        "messages permanently failed in the last hour",
        True,
        1,
        10**9,
        True,
    ),
    AlertRule.Kind.RETRY_SUCCESS_RATE: RuleSpec(
        "ALERT_RETRY_SUCCESS_RATE", "% of finished retried messages sent", False, 0, 100, False
    ),
    AlertRule.Kind.SENDER_SILENT: RuleSpec(
        "ALERT_SENDER_SILENT_MINUTES", "minutes since the sender reported", True, 1, 10080, False
    ),
    AlertRule.Kind.CYCLE_OVERDUE: RuleSpec(
        "ALERT_CYCLE_OVERDUE_MINUTES",
        "minutes the retry cycle is past due",
        True,
        0,
        10080,
        False,
    ),
}


class AlertEvent(models.Model):
    """An alert that fired or resolved, and how each notification went."""

    class Kind(models.TextChoices):
        FIRED = "fired", "Fired"
        RESOLVED = "resolved", "Resolved"

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    value = models.FloatField(null=True, blank=True)
    threshold = models.FloatField()
    text = models.CharField(max_length=500)
    # channel -> "sent", or why it failed ("email", "webhook"; absent: not configured)
    delivery = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.rule.kind} {self.kind} at {self.created_at:%Y-%m-%d %H:%M}"
