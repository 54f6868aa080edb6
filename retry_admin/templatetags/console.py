"""The console's filters: one way to write a moment (with its time zone) and
an interval, on every page."""

import hashlib
from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format

from retry_admin.schedules import every as _every

register = template.Library()

STAMP_FORMAT = "Y-m-d H:i:s T"


def stamp(moment: datetime | None) -> str:
    """``2026-03-01 14:05:09 UTC``: in the configured time zone, saying which.

    What ``date_format(moment, STAMP_FORMAT)`` writes, without its per-call
    set-up: a list of 50 rows calls this for every row, and the general
    formatter was a tenth of such a page's time (bench/http_load.py)."""
    if moment is None:
        return ""
    if not timezone.is_aware(moment):
        return date_format(moment, STAMP_FORMAT)
    local = timezone.localtime(moment)
    return (
        f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
        f"{local.hour:02d}:{local.minute:02d}:{local.second:02d} {local.tzname()}"
    )


register.filter("stamp", stamp)


@register.filter
def every(minutes: int) -> str:
    return _every(int(minutes))


@register.filter
def dom_id(value: object) -> str:
    """A stable, HTML-safe id fragment for any text (an error signature, a
    group key): the same text gives the same id on every render, so focus
    survives a live region's refresh (htmx puts it back on the element with
    the id it had)."""
    return hashlib.sha1(str(value).encode()).hexdigest()[:12]
