"""Failures grouped by error, and bulk retry: preview (count frozen), run,
then the retried messages' progress."""

from django.core.exceptions import ValidationError
from django.db.models import Count
from django.http import HttpResponseBadRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from retry_admin import selectors
from retry_admin.filters import FILTER_FIELDS, MessageFilter
from retry_admin.models import MessageEvent, MessageLog, Status
from retry_admin.services.bulk import PreviewExpired, bulk_retry_preview, bulk_retry_run
from retry_admin.web.access import console_action, console_view, page
from retry_admin.web.messages import RETRYABLE, filtered_page, retry_note

FAILURE_TABS = [
    (Status.PERMANENTLY_FAILED, "Permanently failed"),
    (Status.FAILED, "Failed, waiting for the retry cycle"),
    (Status.DEAD_LETTERED, "Dead-lettered"),
]


@console_view
def failures(request):
    status = request.GET.get("status") or Status.PERMANENTLY_FAILED
    if status not in dict(FAILURE_TABS):
        status = Status.PERMANENTLY_FAILED
    context = filtered_page(request, forced={"status": status})
    groups = selectors.failure_groups(status=status)
    context.update(
        nav="failures",
        status=status,
        status_label=dict(FAILURE_TABS)[status],
        tabs=FAILURE_TABS,
        groups=groups,
        selected_error=request.GET.get("error", ""),
        retryable=RETRYABLE,
    )
    if request.htmx and not request.htmx.history_restore_request:
        return page(request, "retry_admin/failures.html#results", context)
    return page(request, "retry_admin/failures.html", context)


# Bulk retry


@console_action()
def bulk_preview(request):
    params = {key: request.POST.get(key, "") for key in FILTER_FIELDS}
    try:
        filters = MessageFilter.from_params(params)
    except ValidationError as exc:
        return page(request, "retry_admin/_bulk_panel.html", {"error": " ".join(exc.messages)})
    preview = bulk_retry_preview(filters=filters)
    return page(request, "retry_admin/_bulk_panel.html", {"preview": preview})


@console_action()
def bulk_run(request):
    started = timezone.now()
    try:
        result = bulk_retry_run(token=request.POST.get("token", ""), user=request.user)
    except PreviewExpired as exc:
        return page(request, "retry_admin/_bulk_panel.html", {"error": str(exc)})
    level, text = retry_note(result, result.requeued + result.dlq_replayed)
    context = {
        "done": {"level": level, "text": text, "count": result.requeued + result.dlq_replayed},
        "progress": _progress(request.user.get_username(), started, timezone.now()),
    }
    response = page(request, "retry_admin/_bulk_panel.html", context)
    response["HX-Trigger"] = "messages-changed"
    return response


def _progress(actor: str, since, until) -> dict:
    """Where the messages one bulk retry requeued are now, by status."""
    retried = MessageEvent.objects.filter(
        kind__in=[MessageEvent.Kind.MANUAL_RETRY],
        actor_name=actor,
        created_at__gte=since,
        created_at__lte=until,
    ).values("message_id")
    counts = {s: 0 for s in Status.values}
    for row in MessageLog.objects.filter(id__in=retried).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    total = sum(counts.values())
    waiting = counts[Status.PENDING]
    failed_again = counts[Status.FAILED] + counts[Status.PERMANENTLY_FAILED]
    failed_again += counts[Status.DEAD_LETTERED]

    def share(n: int) -> float:
        return round(100 * n / total, 3) if total else 0

    return {
        "actor": actor,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "counts": counts,
        "total": total,
        "waiting": waiting,
        "failed_again": failed_again,
        "percent": 100 if not total else int(100 * (total - waiting) / total),
        "sent_share": share(counts[Status.SENT]),
        "failed_share": share(failed_again),
    }


@console_view
def bulk_progress(request):
    since = parse_datetime(request.GET.get("since", ""))
    until = parse_datetime(request.GET.get("until", ""))
    actor = request.GET.get("actor", "")
    if since is None or until is None or not actor:
        return HttpResponseBadRequest("since, until and actor are required")
    return page(
        request,
        "retry_admin/_bulk_panel.html#progress",
        {"progress": _progress(actor, since, until)},
    )
