"""Keyset pagination, newest first, for every list that pages: messages,
batches, the audit log. Page N costs the same as page 1 on a million rows."""

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet


@dataclass
class Page:
    items: list
    next_cursor: str | None  # older rows: the last item's id, when there are more
    prev_cursor: str | None  # newer rows: the first item's id, when there are more


def keyset_page(
    rows: QuerySet, *, older_than: Any = None, newer_than: Any = None, limit: int
) -> Page:
    """One page of ``rows`` by descending primary key: the rows older than
    ``older_than``, or (when given) the ``limit`` rows just newer than
    ``newer_than``. One query of ``limit + 1`` rows either way."""
    if newer_than is not None:
        found = list(rows.filter(pk__gt=newer_than).order_by("pk")[: limit + 1])
        has_newer, has_older = len(found) > limit, True
        items = list(reversed(found[:limit]))
    else:
        if older_than is not None:
            rows = rows.filter(pk__lt=older_than)
        found = list(rows.order_by("-pk")[: limit + 1])
        has_newer, has_older = older_than is not None, len(found) > limit
        items = found[:limit]
    return Page(
        items=items,
        next_cursor=str(items[-1].pk) if items and has_older else None,
        prev_cursor=str(items[0].pk) if items and has_newer else None,
    )
