"""Reads for the health page: schedules and their last runs, retry runs,
the audit log, whether a worker ever reported in."""

from django_q.models import Schedule, Task

from retry_admin.models import AuditEvent, RetryRun
from retry_admin.selectors.pages import Page, keyset_page


def schedules_with_last_run() -> list[dict]:
    """Every django-q schedule, by name, with its last task (or ``None``)."""
    schedules = list(Schedule.objects.order_by("name"))
    last = {t.id: t for t in Task.objects.filter(id__in=[s.task for s in schedules if s.task])}
    return [{"schedule": s, "last": last.get(s.task)} for s in schedules]


def recent_retry_runs(limit: int = 20) -> list[RetryRun]:
    return list(RetryRun.objects.select_related("actor")[:limit])


def audit_page(*, older_than: int | None = None, limit: int = 50) -> Page:
    """The audit log, newest first."""
    return keyset_page(AuditEvent.objects.all(), older_than=older_than, limit=limit)
