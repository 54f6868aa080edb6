"""Table rows the console draws by the dozen, written in Python.

A list page draws 25 to 100 rows of the same few cells; through the template
language each cell is a variable lookup, a filter and an escape, and each
link a ``{% url %}`` that resolves the URL conf again, which was most of such
a page's time at a million messages (bench/http_load.py). These tags write
exactly the markup the row templates wrote, escaping every value the same
way, and reverse each URL once per table instead of once per row.
"""

import html
import unicodedata
from collections.abc import Callable, Iterable

from django import template
from django.template.defaultfilters import floatformat
from django.urls import reverse
from django.utils.formats import get_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.timesince import TIME_STRINGS, timesince

from retry_admin.templatetags.console import stamp

register = template.Library()

_MARK = "00000000-0000-0000-0000-00000000beef"


def escape(value: object) -> str:
    """What ``{{ value }}`` writes for a value not marked safe: Django's
    ``escape`` (``html.escape``) without its lazy-text wrapper and
    ``SafeString``, which were a fifth of a row's time."""
    return html.escape(str(value))


def truncate(text: str, length: int) -> str:
    """``truncatechars:length``: text that fits after its NFC normalization
    is that text, as ``Truncator.chars`` returns it, without walking it."""
    normal = unicodedata.normalize("NFC", text)
    return normal if len(normal) <= length else Truncator(text).chars(length)


class _Unit:
    """One of ``timesince``'s unit strings (``%(num)d days``), each count
    translated once per table instead of once per row."""

    __slots__ = ("done", "text")

    def __init__(self, text) -> None:
        self.text = text
        self.done: dict[int, str] = {}

    def __mod__(self, params: dict) -> str:
        num = params["num"]
        if num not in self.done:
            self.done[num] = self.text % params
        return self.done[num]


def age_maker() -> Callable[[object], str]:
    """``|timesince`` for the rows of one table: the same text (Django's
    ``timesince`` with its unit strings), each unit and count translated once
    (translating them was most of the DLQ table's age column)."""
    strings = {name: _Unit(text) for name, text in TIME_STRINGS.items()}

    def age(value: object) -> str:
        if not value:
            return ""
        try:
            return timesince(value, time_strings=strings)
        except (ValueError, TypeError):
            return ""

    return age


def url_maker(name: str, sample: object = _MARK) -> Callable[[object], str]:
    """``reverse(name, args=[value])`` for many values at the cost of one:
    the URL reversed once with a marker argument, the marker replaced by each
    value (ids and UUIDs, which need no quoting)."""
    head, _, tail = reverse(name, args=[sample]).rpartition(str(sample))
    return lambda value: f"{head}{value}{tail}"


def message_rows_html(
    messages: Iterable,
    *,
    can_act: bool,
    retryable: Iterable[str],
    oob: bool = False,
    wrap: str = "",
) -> SafeString:
    """The rows of the messages table (``_message_row.html`` as it was), each
    ended by a newline; with ``oob``, marked for an out-of-band swap; with
    ``wrap``, each inside that element (``<template>``)."""
    detail_url = url_maker("message_detail")
    batch_url = url_maker("batch_detail", 1)
    retry_url = url_maker("message_retry")
    retryable = set(retryable)
    swap = ' hx-swap-oob="true"' if oob else ""
    out = []
    for m in messages:
        pk, status, recipient = str(m.pk), m.status, escape(m.recipient)
        may_retry = status in retryable
        check = ""
        if can_act:
            box = (
                f'<input type="checkbox" name="ids" value="{pk}" id="msg-{pk}-select"'
                f' aria-label="Select {recipient}">'
                if may_retry
                else ""
            )
            check = f'<td class="check">{box}</td>'
        created = escape(stamp(m.created_at))
        if m.batch_id:
            batch = (
                f'<a href="{batch_url(m.batch_id)}" id="msg-{pk}-batch"'
                f' title="{escape(m.batch.name)}">#{m.batch_id}</a>'
            )
        else:
            batch = '<span class="muted">deleted</span>'
        retries = f' <span class="muted">· {m.retry_count}↻</span>' if m.retry_count else ""
        error = m.last_error
        if can_act and may_retry:
            action = (
                f'<button type="button" class="btn btn-small" id="msg-{pk}-retry"'
                f' aria-label="Retry {recipient}" hx-post="{retry_url(pk)}"'
                ' hx-target="closest tr" hx-swap="outerHTML" hx-disabled-elt="this"'
                ' data-testid="retry-one">Retry</button>'
            )
        elif status == "pending":
            action = '<span class="muted small">queued</span>'
        else:
            action = ""
        out.append(
            f'<tr id="msg-{pk}" class="row-{escape(status)}"{swap}>\n'
            f"  {check}\n"
            f'  <td class="nowrap"><span title="{created}">{created}</span></td>\n'
            f'  <td class="recipient-cell"><a href="{detail_url(pk)}" class="recipient"'
            f' id="msg-{pk}-open">{recipient}</a></td>\n'
            f'  <td class="nowrap">{batch}</td>\n'
            f'  <td><span class="badge st-{escape(status)}" data-testid="status">'
            f"{escape(m.get_status_display())}</span></td>\n"
            f'  <td class="num nowrap">{m.attempt_count}{retries}</td>\n'
            f'  <td class="error-cell"><span title="{escape(error)}">'
            f"{escape(truncate(error, 110))}</span></td>\n"
            f'  <td class="actions">{action}</td>\n'
            "</tr>\n"
        )
        if wrap:
            out[-1] = f"<{wrap}>{out[-1]}</{wrap}>"
    return mark_safe("".join(out))  # every value above is escaped


@register.simple_tag(takes_context=True)
def message_rows(context, messages, can_act=None, wrap=""):
    """``{% message_rows page.items %}``: the rows, for the page's role
    (``can_act``, ``retryable`` and ``oob`` from the context unless given);
    ``wrap="template"`` puts each row in a ``<template>``."""
    if can_act is None:
        can_act = context.get("can_act", False)
    return message_rows_html(
        messages,
        can_act=bool(can_act),
        retryable=context.get("retryable") or (),
        oob=bool(context.get("oob")),
        wrap=wrap,
    )


def dlq_rows_html(entries: Iterable, *, can_act: bool, auto) -> SafeString:
    """The rows of the DLQ table, from ``(entry, first_error)`` pairs: each
    a newline and the row indented as the table's template has it."""
    detail_url = url_maker("message_detail")
    replay_url = reverse("dlq_replay")
    age_of = age_maker()
    out = []
    for entry, first_error in entries:
        eid, message = escape(entry.id), entry.message
        check = (
            f'<td class="check"><input type="checkbox" name="ids" value="{eid}"'
            f' id="dlq-{eid}-select" aria-label="Select DLQ entry {eid}"></td>'
            if can_act
            else ""
        )
        if message:
            what = (
                f'<a id="dlq-{eid}-open" href="{detail_url(message.pk)}">'
                f"{escape(message.recipient)}</a>"
                f'<div class="mono tiny muted">{message.pk}</div>'
            )
            if entry.poison_loop:
                times = message.dead_letter_count
                what += (
                    f'<span class="badge st-dead_lettered" title="dead-lettered {times} times">'
                    f"poison loop \u00d7{times}</span>"
                )
        elif entry.readable:
            what = '<span class="muted">its message log is gone</span>'
        else:
            what = '<span class="badge st-permanently_failed">not our envelope</span>'
        auto_cell = ""
        if auto.enabled:
            if message:
                when = (
                    f'<div class="muted">next from {escape(stamp(entry.auto_next_at))}</div>'
                    if entry.auto_next_at
                    else '<div class="muted">left for an admin</div>'
                )
                inner = f"{entry.auto_attempts} of {auto.max_attempts}{when}"
            else:
                inner = '<span class="muted">not ours: left for an admin</span>'
            auto_cell = f'<td class="small" data-testid="dlq-auto-attempts">{inner}</td>'
        error = first_error or entry.reason
        evidence = ""
        if entry.details:
            evidence = "".join(
                f"<dt>{escape(label)}</dt><dd>{escape(text)}</dd>"
                for label, text in entry.details.items()
            )
            evidence = f'<dl class="evidence tiny muted">{evidence}</dl>'
        if entry.dead_at:
            age = (
                f'<span title="{escape(stamp(entry.dead_at))}">'
                f"{escape(age_of(entry.dead_at))}</span>"
            )
        else:
            age = "\u2013"  # en dash
        replay = (
            f'<button type="button" class="btn btn-small" name="ids" value="{eid}"'
            f' id="dlq-{eid}-replay" aria-label="Replay DLQ entry {eid}"'
            f' hx-post="{replay_url}" hx-target="#dlq-panel" hx-disabled-elt="this"'
            ' data-testid="replay-one">Replay</button>'
            if can_act
            else ""
        )
        out.append(
            f'\n    <tr id="dlq-{eid}">\n'
            f"      {check}\n"
            f'      <td class="mono">{eid}</td>\n'
            f"      <td>{what}</td>\n"
            f'      <td class="num">{entry.receive_count}</td>\n'
            f"      {auto_cell}\n"
            f'      <td class="error-cell"><span title="{escape(error)}">'
            f"{escape(truncate(error, 100))}</span>{evidence}</td>\n"
            f'      <td class="nowrap">{age}</td>\n'
            '      <td><details><summary class="small">show</summary>'
            f'<pre class="body small">{escape(entry.body)}</pre></details></td>\n'
            f'      <td class="actions">{replay}</td>\n'
            "    </tr>\n    "
        )
    return mark_safe("".join(out))  # every value above is escaped


@register.simple_tag(takes_context=True)
def dlq_rows(context, entries):
    """``{% dlq_rows entries %}``: the DLQ table's rows for the page's role."""
    return dlq_rows_html(entries, can_act=bool(context.get("can_act")), auto=context["auto"])


def _grouped() -> Callable[[int], str]:
    """``floatformat:"g"`` for whole numbers (``1,234`` in en-us), with the
    locale's separator looked up once instead of once per number."""
    if get_format("NUMBER_GROUPING") == 3 and get_format("THOUSAND_SEPARATOR") == ",":
        return lambda n: f"{n:,}" if isinstance(n, int) else floatformat(n, "g")
    return lambda n: floatformat(n, "g")


def progress_bar_html(
    progress,
    *,
    batch=None,
    bar_label: str = "",
    big: bool = False,
    counts: bool = False,
    legend: bool = False,
    grouped: Callable[[int], str] | None = None,
) -> SafeString:
    """One stacked progress bar (sent / failed / permanent / dead / pending),
    named by ``bar_label`` (else by its batch), with its legend (``legend``)
    or its counts as text (``counts``)."""
    grouped = grouped or _grouped()
    if bar_label:
        name = escape(bar_label)
    elif batch:
        name = f"Batch #{batch.pk} progress"
    else:
        name = "Progress"
    total, done, segments = progress.total, progress.done, progress.segments
    shown = [seg for seg in segments if seg["count"]]
    bar = "".join(
        f'<span class="{seg["css"]}" style="width: {seg["percent"]:.3f}%"'
        f' title="{seg["count"]} {escape(seg["label"])}"></span>'
        for seg in shown
    )
    html = (
        f'\n<div class="bar{" bar-big" if big else ""}" role="progressbar"'
        f' aria-label="{name}" aria-valuemin="0" aria-valuemax="{total}"'
        f' aria-valuenow="{done}" aria-valuetext="{grouped(done)} of {grouped(total)} done"'
        f' data-testid="progress" data-done="{done}" data-total="{total}">\n'
        f"  {bar}\n</div>\n"
    )
    if counts:
        text = "".join(
            f'<span class="nowrap"><span class="swatch {seg["css"]}"></span>'
            f" <strong>{grouped(seg['count'])}</strong> {escape(seg['label'])}</span>"
            for seg in shown
        )
        html += f'\n<p class="bar-counts" data-testid="bar-counts">{text}</p>\n'
    html += "\n"
    if legend:
        messages_url = reverse("messages")
        items = []
        for seg in segments:
            count = (
                f'<strong data-testid="count-{seg["status"]}">{grouped(seg["count"])}</strong>'
                f" {escape(seg['label'])}"
            )
            if batch:
                count = (
                    f'<a id="legend-{seg["status"]}" href="{messages_url}?batch={batch.pk}'
                    f'&amp;status={seg["status"]}">{count}</a>'
                )
            items.append(f'<li><span class="swatch {seg["css"]}"></span>{count}</li>')
        html += f'\n<ul class="legend bar-legend">\n  {"".join(items)}\n</ul>\n'
    return mark_safe(html + "\n")  # every value above is escaped


@register.simple_tag(takes_context=True)
def progress_bar(context, progress, bar_label="", big=False, counts=False, legend=False):
    """``{% progress_bar progress big=True legend=True %}``: the bar of the
    context's ``batch``, if any."""
    return progress_bar_html(
        progress,
        batch=context.get("batch"),
        bar_label=bar_label,
        big=big,
        counts=counts,
        legend=legend,
    )


def batch_rows_html(rows: Iterable, *, next_cycle) -> SafeString:
    """The rows of the batches table, from ``(batch, progress)`` pairs."""
    detail_url = url_maker("batch_detail", 1)
    grouped = _grouped()
    age_of = age_maker()
    cycle = f" (next cycle at {escape(stamp(next_cycle))})" if next_cycle else ""
    out = []
    for batch, progress in rows:
        pk = batch.pk
        template_name = escape(batch.template.name) if batch.template else "template deleted"
        by = (
            f'<div class="muted small">by {escape(batch.created_by.get_username())}</div>'
            if batch.created_by
            else ""
        )
        if progress.pending:
            done = f"{progress.percent_done}%"
        elif progress.waiting:
            waiting = progress.waiting
            done = (
                f'<span class="warn-text" title="{waiting} failed message'
                f'{"" if waiting == 1 else "s"} will be retried">waiting for retry{cycle}</span>'
            )
        else:
            done = '<span class="ok nowrap">\u2713 done</span>'
        bar = progress_bar_html(progress, batch=batch, counts=True, grouped=grouped)
        out.append(
            "\n    <tr>\n"
            f'      <td class="mono">{pk}</td>\n'
            f'      <td><a id="batch-{pk}-link" href="{detail_url(pk)}">{escape(batch.name)}</a>'
            f'<div class="muted small">{template_name}</div></td>\n'
            f'      <td class="nowrap"><span title="{escape(stamp(batch.created_at))}">'
            f"{escape(age_of(batch.created_at))} ago</span>{by}</td>\n"
            f"      <td>{escape(batch.channel)}</td>\n"
            f'      <td class="num">{grouped(progress.total)}</td>\n'
            f'      <td class="progress-col">{bar}</td>\n'
            f'      <td class="num">{done}</td>\n'
            "    </tr>\n    "
        )
    return mark_safe("".join(out))  # every value above is escaped


@register.simple_tag(takes_context=True)
def batch_rows(context, rows):
    """``{% batch_rows rows %}``: the batches table's rows."""
    return batch_rows_html(rows, next_cycle=context.get("next_cycle"))
