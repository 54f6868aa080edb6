"""Batches: the list with live progress, one batch, and the create form
(with a live preview of the first personalised message)."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import Http404
from django.shortcuts import redirect

from retry_admin import roles, selectors
from retry_admin.filters import MessageFilter, error_texts, id_cursor, row_id
from retry_admin.models import Batch, Status, template_placeholders
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.services.batches import (
    BatchValidationError,
    IdempotencyKeyReused,
    LineError,
    batch_create,
    batch_recent_twin,
)
from retry_admin.services.dispatch import dispatch_backlog
from retry_admin.services.health import sender_status
from retry_admin.services.templates import template_create, template_render
from retry_admin.web.access import (
    console_action,
    console_view,
    forbidden,
    page,
    page_or_part,
)
from retry_admin.web.figures import KeyedFigures
from retry_admin.web.forms import MAX_UPLOAD_BYTES, BatchForm, TemplateForm, size_label
from retry_admin.web.messages import TABLE_FIELDS
from retry_admin.web.progress import Progress
from retry_admin.web.recipients import (
    RecipientSource,
    RecipientsUnreadable,
    decode_upload,
    parse_recipients,
)

PAGE_SIZE = 25
SHOWN_ERRORS = 100
PREVIEW_BYTES = 64 * 1024
# A form sent again with the same content within this long asks before creating.
TWIN_WINDOW_SECONDS = 3600


# The list's progress and a batch's most common errors, shared by every tab
# watching them (see figures.py). A batch's own progress is counted on every
# request: it is what someone who just sent the batch is watching.
PROGRESS = KeyedFigures(
    lambda ids: selectors.batch_progress(list(ids)),
    name="batch-progress",
    fresh_setting="CONSOLE_FIGURES_FRESH_SECONDS",
)
ERROR_GROUPS = KeyedFigures(
    selectors.batch_error_groups,
    name="batch-errors",
    fresh_setting="CONSOLE_FIGURES_FRESH_SECONDS",
)


def _count(n: int, noun: str) -> str:
    """``1 message``, ``2 messages``, ``1,200 messages``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


# Pages


@console_view
def batch_list(request):
    param_errors = {}
    try:
        before = id_cursor(request.GET)
    except ValidationError as exc:
        before, param_errors = None, error_texts(exc)
    listed = selectors.batch_page(older_than=before, limit=PAGE_SIZE)
    batches = listed.items
    progress = PROGRESS.get(tuple(b.pk for b in batches))
    rows = [(batch, Progress(progress[batch.pk])) for batch in batches]
    context = {
        "nav": "batches",
        "rows": rows,
        "older": listed.next_cursor,
        "before": before,
        "param_errors": param_errors,
        "live": any(p.pending for _, p in rows),
        "next_cycle": next_run(RETRY_CYCLE),
    }
    return page_or_part(request, "retry_admin/batches.html", "table", context)


@console_view
def batch_detail(request, pk):
    batch = selectors.batch_get(pk)
    if batch is None:
        raise Http404("No such batch.")
    context = {
        "nav": "batches",
        "batch": batch,
        "progress": Progress(selectors.batch_progress([batch.pk])[batch.pk]),
        "next_cycle": next_run(RETRY_CYCLE),
    }
    context["errors"] = [
        {**row, "label": Status(row["status"]).label} for row in ERROR_GROUPS.get(batch.pk)
    ]
    context["recent"] = selectors.message_page(
        filters=MessageFilter(batch=batch.pk), limit=20, fields=TABLE_FIELDS
    )
    # While messages wait: what the sender is doing (its heartbeat), and how
    # many are still on their way to the queue (SQS, Azure...: enqueued in
    # the background after the batch was created).
    pending = context["progress"].pending
    context["sender"] = sender_status() if pending else None
    context["unqueued"] = dispatch_backlog(batch.pk) if pending else 0
    context["enqueued"] = batch.total - context["unqueued"]
    return page_or_part(request, "retry_admin/batch_detail.html", "live", context)


# Creating a batch


def _form_context(
    form: BatchForm, line_errors: list[LineError], source: RecipientSource | None = None
) -> dict:
    general = [e for e in line_errors if not e.line]
    per_line = [e for e in line_errors if e.line]
    shown = per_line[:SHOWN_ERRORS]
    texts = source.line_texts({e.line for e in shown}) if source is not None else {}
    return {
        "nav": "batches",
        "form": form,
        "general_errors": general,
        "line_errors": [
            {"line": e.line, "message": e.message, "text": texts.get(e.line, "")[:120]}
            for e in shown
        ],
        "more_errors": max(0, len(per_line) - SHOWN_ERRORS),
        "error_lines": len({e.line for e in per_line}),
        "templates": selectors.templates(),
        "selected_template": form["template"].value(),
        "template_form": TemplateForm(),
    }


@console_view
def batch_new(request):
    if not roles.can_act(request.user):
        return forbidden(request, "Your role may view batches but not create them.")
    if request.method != "POST":
        form = BatchForm(initial={"idempotency_key": uuid.uuid4().hex})
        return page(request, "retry_admin/batch_new.html", _form_context(form, []))
    try:
        form = BatchForm(request.POST, request.FILES)
    except RequestDataTooBig:
        return batch_form_too_large(request)
    errors: list[LineError] = []
    if form.is_valid():
        twin = None if request.POST.get("create_another") else _twin(request, form)
        if twin is not None:
            context = {**_form_context(form, [], form.source), "twin": twin}
            return page(request, "retry_admin/batch_new.html", context, status=409)
        try:
            result = batch_create(
                name=form.cleaned_data["name"],
                template=form.cleaned_data["template"],
                recipients=form.source.rows(),
                channel=form.cleaned_data["channel"],
                user=request.user,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except BatchValidationError as exc:
            errors = exc.errors
        except IdempotencyKeyReused as exc:
            # Edited after a submit (Back, then changes): a new key lets the
            # next submit create the batch the form now describes.
            form.data = form.data.copy()
            form.data["idempotency_key"] = uuid.uuid4().hex
            errors = [
                LineError(
                    0,
                    f"This form was already used for batch #{exc.batch.pk} with other "
                    "recipients or settings; nothing new was created. Send it again to "
                    "create another batch from what it holds now.",
                )
            ]
        else:
            batch = result.batch
            if result.created:
                note = f"Batch #{batch.pk} created: {_count(batch.total, 'message')} queued."
                if result.duplicates_removed:
                    skipped = _count(result.duplicates_removed, "duplicate recipient")
                    note += f" {skipped} skipped."
                messages.success(request, note)
            else:
                messages.info(
                    request,
                    f"This form was already submitted: batch #{batch.pk} exists, "
                    "nothing new was created.",
                )
            return redirect("batch_detail", pk=batch.pk)
    context = _form_context(form, errors, form.source)
    return page(request, "retry_admin/batch_new.html", context, status=400)


def _twin(request, form: BatchForm) -> Batch | None:
    """A batch this user just created from the same input under another key
    (the form sent again after Back): asked about, never created twice."""
    twin = batch_recent_twin(
        user=request.user,
        name=form.cleaned_data["name"],
        template=form.cleaned_data["template"],
        channel=form.cleaned_data["channel"],
        recipients=form.source.rows(),
        within_seconds=TWIN_WINDOW_SECONDS,
    )
    if twin is None or twin.idempotency_key == form.cleaned_data["idempotency_key"]:
        return None  # the same key is an idempotent replay: batch_create lands on it
    return twin


@console_action()
def batch_preview(request):
    """The first recipient's message, as it will be sent (live, as the form
    is filled in)."""
    context = {"problem": "", "recipient": "", "body": "", "template": None}
    try:
        template_id = request.POST.get("template", "")
    except RequestDataTooBig:
        return batch_form_too_large(request, preview=True)
    template = selectors.template_get(row_id(template_id))
    context["template"] = template
    if template is None:
        context["problem"] = "Choose a template to see the first message."
        return page(request, "retry_admin/batch_new.html#preview", context)
    context["placeholders"] = sorted(template_placeholders(template.body))
    try:
        upload = request.FILES.get("csv_file")
        if upload:
            head = upload.read(PREVIEW_BYTES)
            if len(head) == PREVIEW_BYTES:  # never cut a line (or a character) in two
                head = head[: head.rfind(b"\n") + 1] or head
            text, header_required = decode_upload(head), True
        else:
            text, header_required = request.POST.get("recipients", ""), False
        if not text.strip():
            context["problem"] = "Add recipients to see the first personalised message."
            return page(request, "retry_admin/batch_new.html#preview", context)
        parsed = parse_recipients(text, header_required=header_required, limit=1)
    except (RecipientsUnreadable, RequestDataTooBig) as exc:
        context["problem"] = str(exc) or "The recipients cannot be read."
        return page(request, "retry_admin/batch_new.html#preview", context)
    if not parsed.rows:
        first = parsed.errors[0] if parsed.errors else None
        context["problem"] = str(first) if first else "No recipient found yet."
        return page(request, "retry_admin/batch_new.html#preview", context)
    row = parsed.rows[0]
    context["recipient"] = row.recipient
    rendered = template_render(body=template.body, context=row.context, recipient=row.recipient)
    context["body"] = rendered.body
    if name := rendered.missing:
        columns = ", ".join(parsed.columns) or "none"
        context["problem"] = (
            f"Unknown placeholder {{{{ {name} }}}}: the recipients have no “{name}” column "
            f"(columns: {columns})."
        )
    return page(request, "retry_admin/batch_new.html#preview", context)


def _paste_too_large() -> str:
    return (
        "The pasted recipients are larger than the "
        f"{size_label(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)} a form may send: upload them as "
        f"a CSV file instead (up to {size_label(MAX_UPLOAD_BYTES)})."
    )


@console_view
def batch_form_too_large(request, *, preview: bool = False):
    """The form or its preview, sent with more than Django reads. Called by
    ``web.middleware`` before the CSRF check (which would answer a bare 400);
    reads nothing from the request, so nothing is created."""
    if not roles.can_act(request.user):
        return forbidden(request, "Your role may view batches but not create them.")
    if preview:
        context = {"problem": _paste_too_large(), "recipient": "", "body": "", "template": None}
        return page(request, "retry_admin/batch_new.html#preview", context)
    form = BatchForm(initial={"idempotency_key": uuid.uuid4().hex})
    context = _form_context(form, [LineError(0, _paste_too_large())])
    return page(request, "retry_admin/batch_new.html", context, status=413)


@console_action()
def template_new(request):
    form = TemplateForm(request.POST)
    context = {"template_form": form, "templates": selectors.templates(), "created": None}
    if form.is_valid():
        try:
            template = template_create(
                name=form.cleaned_data["template_name"], body=form.cleaned_data["template_body"]
            )
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                target = {"name": "template_name", "body": "template_body"}.get(field)
                for error in errors:
                    form.add_error(target, error)
        else:
            context.update(
                created=template, template_form=TemplateForm(), selected_template=str(template.pk)
            )
    response = page(request, "retry_admin/_template_new.html", context)
    if context["created"]:
        response["HX-Trigger"] = "template-created"
    return response
