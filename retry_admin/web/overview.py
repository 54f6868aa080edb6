"""The overview page and the "run the retry cycle now" button."""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from retry_admin import selectors
from retry_admin.models import RetryRun, Status
from retry_admin.services import retry
from retry_admin.web.access import console_action, console_view, page_or_part
from retry_admin.web.charts import hourly_chart
from retry_admin.web.figures import SharedFigures


def _status_rows(data: dict) -> list[dict]:
    total = data["total"] or 1
    return [
        {
            "status": status,
            "label": label,
            "count": data["counts"][status],
            "percent": round(100 * data["counts"][status] / total, 2),
        }
        for status, label in Status.choices
    ]


def _figures() -> dict:
    return {"data": selectors.overview(), "computed_at": timezone.now()}


# Shared by every tab watching the overview (see figures.py and docs/console.md).
FIGURES = SharedFigures(_figures, name="overview", fresh_setting="CONSOLE_FIGURES_FRESH_SECONDS")


@console_view
def overview(request):
    figures = FIGURES.get()
    data = figures["data"]
    rate = data["retry_success_rate"]
    context = {
        "nav": "overview",
        "data": data,
        "status_rows": _status_rows(data),
        "success_percent": None if rate is None else round(100 * rate, 1),
        "chart": hourly_chart(data["hourly"]),
        "now": timezone.now(),
        "computed_at": figures["computed_at"],
        "figures": selectors.RETRY_FIGURES,
        "cycle_limit": settings.RETRY_CYCLE_LIMIT,
    }
    return page_or_part(request, "retry_admin/overview.html", "stats", context)


@console_action()
def retry_cycle_trigger(request):
    """Queue a retry cycle for the worker; the cycle itself audits who asked."""
    try:
        retry.retry_cycle_trigger(trigger=RetryRun.Trigger.CONSOLE, user=request.user)
    except retry.RetryCycleBusy as exc:
        messages.info(request, f"{exc}: nothing new was queued.")
    except retry.RetryNoWorker as exc:
        messages.error(request, f"Retry cycle not queued. {exc}.")
    else:
        messages.success(request, "Retry cycle queued: the worker runs it within seconds.")
    return HttpResponseRedirect(_local_path(request, request.POST.get("next", "")))


def _local_path(request, target: str) -> str:
    """``target`` if it is a path on this site, else "/" (never another site,
    and never a URL pattern name, which ``redirect()`` would try to reverse)."""
    local = target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if local else "/"
