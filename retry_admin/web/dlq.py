"""The dead-letter queue: what is in it, replay (one, selected, all, with a
preview) and purge (Super Admin only, typed confirmation)."""

from retry_admin import roles, selectors
from retry_admin.queues import QueueError
from retry_admin.selectors.dlq import dlq_auto_status
from retry_admin.services.dlq import ReplayResult, dlq_purge, dlq_replay
from retry_admin.web.access import (
    console_action,
    console_view,
    forbidden,
    page,
    page_or_part,
)
from retry_admin.web.forms import parse_entry_ids

PAGE_SIZE = 100
PURGE_WORD = "PURGE"
# What the table shows of an entry's message (the rest of each log is not read).
MESSAGE_FIELDS = ("id", "recipient", "dead_letter_count")


@console_view
def dlq(request):
    context = {
        "nav": "dlq",
        "purge_word": PURGE_WORD,
        "queue_error": "",
        "auto": dlq_auto_status(),
    }
    try:
        context["depth"] = selectors.dlq_depth()
        entries = selectors.dlq_entries(limit=PAGE_SIZE, message_fields=MESSAGE_FIELDS)
    except QueueError as exc:
        context["queue_error"] = str(exc)
        context["depth"], entries = 0, []
    errors = selectors.first_errors([e.message.pk for e in entries if e.message])
    context["entries"] = [
        (entry, errors.get(entry.message.pk) if entry.message else None) for entry in entries
    ]
    context["poison_loops"] = sum(1 for e in entries if e.poison_loop)
    return page_or_part(request, "retry_admin/dlq.html", "table", context)


def _scope(request) -> tuple[str, list[str]]:
    if request.POST.get("scope") == "all":
        return "all", []
    return "selected", parse_entry_ids(request.POST.getlist("ids"))


def _preview(scope: str, ids: list[str], *, purge: bool) -> dict:
    """What a replay or purge would take: the count and a sample with recipients."""
    if scope == "all":
        count = selectors.dlq_depth()
        sample = selectors.dlq_entries(limit=10)
    else:
        sample = selectors.dlq_entries(ids=ids, limit=len(ids)) if ids else []
        ids = [entry.id for entry in sample]
        count = len(sample)
    return {
        "scope": scope,
        "count": count,
        "ids": ids,
        "sample": sample[:10],
        "purge_word": PURGE_WORD,
        "purge": purge,
        # Offer "move back as-is" when foreign bodies may be among them.
        "foreign": scope == "all" or any(entry.message is None for entry in sample),
    }


@console_action()
def dlq_preview(request):
    scope, ids = _scope(request)
    purge = bool(request.POST.get("purge"))
    if purge and not roles.can_purge(request.user):
        return forbidden(request, "Only a Super Admin may purge the dead-letter queue.")
    return page(request, "retry_admin/_dlq_panel.html", _preview(scope, ids, purge=purge))


def _wrong_word(typed: str) -> str:
    if not typed:
        return f"Type {PURGE_WORD} to confirm. Nothing was deleted."
    if typed.upper() == PURGE_WORD:
        return (
            f"“{typed}” is not {PURGE_WORD}: type {PURGE_WORD} in capitals to confirm. "
            "Nothing was deleted."
        )
    return f"“{typed}” is not {PURGE_WORD}. Type {PURGE_WORD} to confirm. Nothing was deleted."


OUTCOMES_SHOWN = 50


def _replay_note(result: ReplayResult) -> dict:
    """The flash after a replay: a sentence, and what happened to each entry."""
    text = (
        f"Replayed {result.replayed:,} message{'s' if result.replayed != 1 else ''} to the queue."
    )
    if result.moved_as_is:
        moved = len(result.moved_as_is)
        text += f" Moved {moved:,} foreign bod{'y' if moved == 1 else 'ies'} back as-is."
    stayed = result.left
    if stayed:
        text += f" {len(stayed):,} stayed in the DLQ."
    outcomes = result.outcomes()
    return {
        "level": "success" if (result.replayed or result.moved_as_is) and not stayed else "warning",
        "text": text,
        "outcomes": [(i, o.label, why) for i, o, why in outcomes[:OUTCOMES_SHOWN]],
        "more": max(0, len(outcomes) - OUTCOMES_SHOWN),
        "foreign_left": bool(result.unreadable),
    }


@console_action()
def dlq_replay_view(request):
    scope, ids = _scope(request)
    as_is = request.POST.get("as_is") == "1"
    if scope == "all":
        frozen = request.POST.get("count", "")
        limit = int(frozen) if frozen.isdigit() else None
        result = (
            dlq_replay(ids=None, user=request.user, limit=limit, as_is=as_is)
            if limit != 0
            else None
        )
    else:
        result = dlq_replay(ids=ids, user=request.user, as_is=as_is) if ids else None
    if result is None:
        flash = {"level": "info", "text": "Nothing to replay."}
    else:
        flash = _replay_note(result)
    response = page(request, "retry_admin/_dlq_panel.html", {"flash": flash})
    response["HX-Trigger"] = "dlq-changed"
    return response


@console_action(roles.can_purge, refusal="Only a Super Admin may purge the dead-letter queue.")
def dlq_purge_view(request):
    scope, ids = _scope(request)
    typed = request.POST.get("confirm", "").strip()
    if typed != PURGE_WORD:
        # The form again, with what to type: the operator tries again in place.
        context = {**_preview(scope, ids, purge=True), "purge_error": _wrong_word(typed[:40])}
        return page(request, "retry_admin/_dlq_panel.html", context, status=400)
    if scope == "selected" and not ids:
        flash = {"level": "error", "text": "Select the entries to purge. Nothing was deleted."}
        return page(request, "retry_admin/_dlq_panel.html", {"flash": flash}, status=400)
    purged = dlq_purge(ids=None if scope == "all" else ids, user=request.user)
    flash = {
        "level": "success",
        "text": (
            "Purged 1 entry; its message is now permanently failed."
            if purged == 1
            else f"Purged {purged:,} entries; their messages are now permanently failed."
        ),
    }
    response = page(request, "retry_admin/_dlq_panel.html", {"flash": flash})
    response["HX-Trigger"] = "dlq-changed"
    return response
