"""Alerts: the rules with their state and thresholds, what they did, and
(Super Admin) setting a threshold or turning a rule off."""

from django.http import Http404
from django.shortcuts import redirect

from retry_admin import roles
from retry_admin.models import AlertRule
from retry_admin.selectors.alerts import alert_channels, alert_history, alert_rules
from retry_admin.services.alerts import AlertRuleInvalid, alert_rule_update
from retry_admin.web.access import console_action, console_view, page


def _context(request, **extra) -> dict:
    return {
        "nav": "alerts",
        "rules": alert_rules(),
        "history": alert_history(),
        "channels": alert_channels(),
        "can_manage_alerts": roles.can_manage_alerts(request.user),
        **extra,
    }


@console_view
def alerts_page(request):
    return page(request, "retry_admin/alerts.html", _context(request))


@console_action(roles.can_manage_alerts, refusal="Only a Super Admin may change the alert rules.")
def alert_rule_edit(request, kind: str):
    if kind not in AlertRule.Kind.values:
        raise Http404("No such alert rule")
    threshold = request.POST.get("threshold", "")
    try:
        alert_rule_update(
            kind=kind,
            threshold=threshold,
            enabled=request.POST.get("enabled") == "on",
            user=request.user,
        )
    except AlertRuleInvalid as exc:
        context = _context(request, error_kind=kind, error=str(exc), typed=threshold[:40])
        return page(request, "retry_admin/alerts.html", context, status=400)
    return redirect("alerts")
