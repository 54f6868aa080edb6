"""Failures grouped by error, and bulk retry: preview (count frozen), run,
then the retried messages' progress."""

from datetime import datetime

from django.core.exceptions import ValidationError
from django.http import HttpResponseBadRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from retry_admin import selectors
from retry_admin.filters import FILTER_FIELDS, MessageFilter
from retry_admin.models import Status
from retry_admin.services.bulk import (
    PreviewExpired,
    bulk_retry_preview,
    bulk_retry_run,
    parse_group,
)
from retry_admin.web.access import console_action, console_view, page, page_or_part
from retry_admin.web.figures import KeyedFigures
from retry_admin.web.messages import RETRYABLE, filtered_page, retry_note
from retry_admin.web.progress import Progress

FAILURE_TABS = [
    (Status.PERMANENTLY_FAILED, "Permanently failed"),
    (Status.FAILED, "Failed, waiting for the retry cycle"),
    (Status.DEAD_LETTERED, "Dead-lettered"),
]

# A tab's groups, shared by every tab watching it (see figures.py).
GROUPS = KeyedFigures(
    lambda status: selectors.failure_groups(status=status),
    name="failure-groups",
    fresh_setting="CONSOLE_FIGURES_FRESH_SECONDS",
)


@console_view
def failures(request):
    status = request.GET.get("status") or Status.PERMANENTLY_FAILED
    unknown_tab = status not in dict(FAILURE_TABS)
    if unknown_tab:
        status = Status.PERMANENTLY_FAILED
    context = filtered_page(request, forced={"status": status})
    if unknown_tab:
        tabs = ", ".join(tab for tab, _ in FAILURE_TABS)
        context["errors"]["status"] = f"This page shows {tabs}; not {request.GET['status'][:40]!r}"
    groups = GROUPS.get(status)
    context.update(
        nav="failures",
        status=status,
        status_label=dict(FAILURE_TABS)[status],
        tabs=FAILURE_TABS,
        groups=groups,
        selected_error=request.GET.get("error", ""),
        retryable=RETRYABLE,
    )
    # The groups poll on their own, leaving the selections in the list alone.
    part = "groups" if request.htmx.target == "failure-groups" else "results"
    return page_or_part(request, "retry_admin/failures.html", part, context)


# Bulk retry


@console_action()
def bulk_preview(request):
    params = {key: request.POST.get(key, "") for key in FILTER_FIELDS}
    try:
        filters = MessageFilter.from_params(params)
    except ValidationError as exc:
        return page(request, "retry_admin/_bulk_panel.html", {"error": " ".join(exc.messages)})
    # The first preview takes the default groups; ticking one previews again.
    chosen = None
    if request.POST.get("choose"):
        chosen = [key for key in map(parse_group, request.POST.getlist("group")) if key]
    preview = bulk_retry_preview(filters=filters, groups=chosen, choose=True)
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
        **_progress(request.user.get_username(), started, timezone.now()),
    }
    response = page(request, "retry_admin/_bulk_panel.html", context)
    response["HX-Trigger"] = "messages-changed"
    return response


def _progress(actor: str, since: datetime, until: datetime) -> dict:
    """Where the messages one bulk retry requeued are now, and how to ask again."""
    counts = selectors.manually_retried_counts(actor=actor, since=since, until=until)
    return {
        "progress": Progress(counts),
        "poll": {"actor": actor, "since": since.isoformat(), "until": until.isoformat()},
    }


def _moment(raw: str) -> datetime | None:
    """An ISO datetime (naive ones in the current time zone), or ``None``."""
    try:
        moment = parse_datetime(raw)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30T00:00
        return None
    if moment is not None and timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


@console_view
def bulk_progress(request):
    moments = {name: _moment(request.GET.get(name, "")) for name in ("since", "until")}
    actor = request.GET.get("actor", "")
    bad = [name for name, moment in moments.items() if moment is None]
    bad += ["actor"] if not actor or "\x00" in actor else []
    if bad:
        return HttpResponseBadRequest(
            f"{', '.join(bad)}: since and until must be ISO datetimes, actor a user name"
        )
    since, until = moments["since"], moments["until"]
    return page(request, "retry_admin/_bulk_panel.html#progress", _progress(actor, since, until))
