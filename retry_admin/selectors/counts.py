"""Counts of messages by status: one grouped query, every status present."""

from collections.abc import Iterable

from django.db.models import Count, QuerySet

from retry_admin.models import Status


def zero_counts() -> dict[str, int]:
    return dict.fromkeys(Status.values, 0)


def fold_by_status(rows: Iterable[dict], value: str = "n") -> dict[str, int]:
    """Grouped rows (each with ``status`` and ``value``) as ``{status: value}``,
    zero for a status no row has."""
    counts = zero_counts()
    for row in rows:
        counts[row["status"]] = row[value]
    return counts


def counts_by_status(messages: QuerySet) -> dict[str, int]:
    """``{status: n}`` for a queryset of messages."""
    return fold_by_status(messages.order_by().values("status").annotate(n=Count("*")))
