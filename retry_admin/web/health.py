"""Health: ``/healthz`` for machines (JSON) and ``/health/`` for people."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from retry_admin import selectors
from retry_admin.filters import error_texts, id_cursor
from retry_admin.services.health import health_check, liveness
from retry_admin.web.access import console_view, page, wants_part

AUDIT_PAGE = 50


@require_GET
@never_cache
def healthz(request):
    """No auth, for monitors: every part (database, queue, worker, scheduler,
    sender, retry cycle). 200 healthy; 503 with ``status`` "starting" (just
    started, not reported yet) or "down"."""
    report = health_check()
    return JsonResponse(report, status=200 if report["healthy"] else 503)


@require_GET
@never_cache
def healthz_live(request):
    """No auth, for load balancers and liveness probes: 200 once the web
    server answers and the database takes a query, whatever the workers do."""
    report = liveness()
    return JsonResponse(report, status=200 if report["alive"] else 503)


def _retry_times(check: dict) -> dict:
    """The retry cycle's last and next run as moments, so the page writes
    them like every other time (the JSON check carries ISO text)."""
    return {
        key: parse_datetime(check[key]) if check.get(key) else None
        for key in ("last_run", "next_run")
    }


@console_view
def health_page(request):
    report = health_check()
    context = {
        "nav": "health",
        "report": report,
        "checks": report["checks"],
        "checked_at": parse_datetime(report["timestamp"]),
        "retry_times": _retry_times(report["checks"].get("retry_cycle", {})),
    }
    if wants_part(request):  # the checks poll; the rest of the page stays
        return page(request, "retry_admin/health.html#checks", context)
    try:
        before = id_cursor(request.GET)
    except ValidationError as exc:
        before, context["param_errors"] = None, error_texts(exc)
    audit = selectors.audit_page(older_than=before, limit=AUDIT_PAGE)
    context.update(
        schedules=selectors.schedules_with_last_run(),
        runs=selectors.recent_retry_runs(20),
        audit=audit.items,
        audit_older=audit.next_cursor,
    )
    return page(request, "retry_admin/health.html", context)
