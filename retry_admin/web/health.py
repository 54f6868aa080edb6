"""Health: ``/healthz`` for machines (JSON) and ``/health/`` for people."""

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_q.models import Schedule, Task

from retry_admin.filters import error_texts, id_cursor
from retry_admin.models import AuditEvent, RetryRun
from retry_admin.services.health import health_check
from retry_admin.web.access import console_view, page

AUDIT_PAGE = 50


@require_GET
@never_cache
def healthz(request):
    """No auth: for load balancers and monitors. 200 healthy, 503 not."""
    report = health_check()
    return JsonResponse(report, status=200 if report["healthy"] else 503)


def _schedules() -> list[dict]:
    schedules = list(Schedule.objects.order_by("name"))
    last = {t.id: t for t in Task.objects.filter(id__in=[s.task for s in schedules if s.task])}
    return [{"schedule": s, "last": last.get(s.task)} for s in schedules]


@console_view
def health_page(request):
    report = health_check()
    context = {
        "nav": "health",
        "report": report,
        "checks": report["checks"],
        "checked_at": parse_datetime(report["timestamp"]),
    }
    if request.htmx and not request.htmx.history_restore_request:
        return page(request, "retry_admin/health.html#checks", context)
    audit = AuditEvent.objects.order_by("-id")
    try:
        before = id_cursor(request.GET)
    except ValidationError as exc:
        before, context["param_errors"] = None, error_texts(exc)
    if before is not None:
        audit = audit.filter(id__lt=before)
    events = list(audit[: AUDIT_PAGE + 1])
    context.update(
        schedules=_schedules(),
        runs=RetryRun.objects.select_related("actor")[:20],
        audit=events[:AUDIT_PAGE],
        audit_older=events[AUDIT_PAGE - 1].pk if len(events) > AUDIT_PAGE else None,
    )
    return page(request, "retry_admin/health.html", context)
