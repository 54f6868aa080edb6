"""Messages: the filtered list, one message's timeline, and one-click retry."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect

from retry_admin import policy, selectors
from retry_admin.filters import MessageFilter, error_texts, page_cursors
from retry_admin.models import Status
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.services.manual_retry import ManualRetryResult, message_retry
from retry_admin.web.access import console_action, console_view, page, page_or_part
from retry_admin.web.forms import parse_uuids
from retry_admin.web.timeline import (
    message_retries,
    message_timeline,
    rendered_body,
    retry_outlook,
)

RETRYABLE = policy.ADMIN_RETRYABLE  # what a Retry button may be shown for
PAGE_SIZE = 50
# What a table of messages shows (retry_admin/templatetags/rows.py): the rest
# of each log (its context, lease, times) is not read for a list.
TABLE_FIELDS = (
    "id",
    "batch_id",
    "batch__name",
    "recipient",
    "status",
    "retry_count",
    "attempt_count",
    "last_error",
    "created_at",
)
# Sent after a retry whose rows change in place; counts elsewhere listen for it.
RETRIED = "message-retried"


def filtered_page(request, *, forced: dict | None = None) -> dict:
    """Parse the filter and cursors from the URL and fetch one page; errors are
    returned for the form instead of being ignored."""
    params = request.GET.copy()
    for key, value in (forced or {}).items():
        params[key] = value
    context = {"params": params, "errors": {}, "page": None, "filters": None, "query": ""}
    try:
        filters = MessageFilter.from_params(params)
        cursors = page_cursors(params)
        context["filters"] = filters
        context["query"] = urlencode(filters.as_params())
        context["page"] = selectors.message_page(
            filters=filters,
            after=cursors["after"],
            before=cursors["before"],
            limit=PAGE_SIZE,
            fields=TABLE_FIELDS,
        )
    except ValidationError as exc:
        context["errors"] = error_texts(exc)
    return context


# Pages


@console_view
def message_list(request):
    context = filtered_page(request)
    context.update(nav="messages", statuses=Status.choices, retryable=RETRYABLE)
    return page_or_part(request, "retry_admin/messages.html", "table", context)


@console_view
def message_detail(request, pk):
    message = selectors.message_get(pk)
    if message is None:
        raise Http404("No such message.")
    body, body_problem = rendered_body(message)
    context = {
        "nav": "messages",
        "m": message,
        "timeline": message_timeline(message),
        "body": body,
        "body_problem": body_problem,
        "outlook": retry_outlook(message, next_run(RETRY_CYCLE)),
        "retries": message_retries(message),
        "figures": selectors.RETRY_FIGURES,
        "retryable": RETRYABLE,
        "max_retries": settings.MAX_MESSAGE_RETRY_COUNT,
        "context_items": list(message.context.items()) if isinstance(message.context, dict) else [],
    }
    return page_or_part(request, "retry_admin/message_detail.html", "live", context)


# Actions


def retry_note(result: ManualRetryResult, asked: int) -> tuple[str, str]:
    """(level, text) describing what a retry did, in the operator's words."""
    done = result.requeued + result.dlq_replayed
    parts = []
    if result.requeued:
        parts.append(f"{result.requeued:,} requeued")
    if result.dlq_replayed:
        parts.append(f"{result.dlq_replayed:,} replayed from the DLQ")
    if result.already_queued:
        parts.append(f"{result.already_queued:,} already queued (nothing to do)")
    if result.not_retryable:
        parts.append(f"{result.not_retryable:,} not retryable (already sent)")
    missing = asked - done - result.already_queued - result.not_retryable
    if missing > 0:
        parts.append(f"{missing:,} not found")
    text = "Retry: " + (", ".join(parts) or "nothing to do") + "."
    return ("success" if done else "info"), text


@console_action()
def message_retry_one(request, pk):
    if selectors.unknown_message_ids([pk]):
        raise Http404("No such message.")
    result = message_retry(message_ids=[pk], user=request.user)
    level, text = retry_note(result, 1)
    if request.htmx:
        message = selectors.message_get(pk)
        context = {"rows": [message], "flash": {"level": level, "text": text}}
        context.update(retryable=RETRYABLE)
        response = page(request, "retry_admin/_message_rows.html", context)
        response["HX-Trigger"] = RETRIED  # counts elsewhere on the page refresh
        return response
    getattr(messages, level)(request, text)
    return redirect("message_detail", pk=pk)


@console_action()
def message_retry_selected(request):
    ids = parse_uuids(request.POST.getlist("ids"))
    if not ids:
        return page(
            request,
            "retry_admin/_message_rows.html",
            {"rows": [], "flash": {"level": "error", "text": "Select at least one message."}},
        )
    result = message_retry(message_ids=ids, user=request.user)
    level, text = retry_note(result, len(ids))
    rows = selectors.messages_by_ids(ids)
    context = {"rows": rows, "oob": True, "flash": {"level": level, "text": text}}
    context["retryable"] = RETRYABLE
    response = page(request, "retry_admin/_message_rows.html", context)
    response["HX-Trigger"] = RETRIED
    return response
