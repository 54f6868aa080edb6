"""The alert rules as the console shows them, and what they did."""

from django.conf import settings

from retry_admin.models import AlertEvent, AlertRule

HISTORY = 50


def alert_rules() -> list[AlertRule]:
    """Every rule, in ``Kind`` order; one never saved shows its defaults."""
    saved = {rule.kind: rule for rule in AlertRule.objects.select_related("updated_by")}
    return [saved.get(kind) or AlertRule(kind=kind) for kind in AlertRule.Kind.values]


def alert_history(limit: int = HISTORY) -> list[AlertEvent]:
    """The latest alerts that fired or resolved, newest first."""
    return list(AlertEvent.objects.select_related("rule")[:limit])


def alert_channels() -> dict[str, str]:
    """Where alerts go (empty: nowhere configured)."""
    channels = {}
    if settings.ALERT_EMAIL_TO:
        channels["email"] = ", ".join(settings.ALERT_EMAIL_TO)
    if settings.ALERT_WEBHOOK_URL:
        channels["webhook"] = settings.ALERT_WEBHOOK_URL.split("?")[0]
    return channels
