"""Batches and templates, for the batches pages, the form and the API."""

from django.db.models import Count, QuerySet

from retry_admin.filters import row_id
from retry_admin.models import Batch, MessageLog, Template
from retry_admin.selectors.counts import zero_counts
from retry_admin.selectors.pages import Page, keyset_page

BIGINT_MAX = 2**63 - 1


def batches() -> QuerySet:
    """Every batch with its template and creator (for lists and the API's pages)."""
    return Batch.objects.select_related("template", "created_by")


def batch_get(pk: int) -> Batch | None:
    """The batch with this id (``None`` for an unknown id or one out of range)."""
    if not 1 <= pk <= BIGINT_MAX:
        return None
    return batches().filter(pk=pk).first()


def batch_page(*, older_than: int | None = None, limit: int) -> Page:
    """Batches, newest first."""
    return keyset_page(batches(), older_than=older_than, limit=limit)


def batch_progress(batch_ids: list[int]) -> dict[int, dict[str, int]]:
    """Counts by status per batch, one grouped query for all of them."""
    progress = {pk: zero_counts() for pk in batch_ids}
    rows = (
        MessageLog.objects.filter(batch_id__in=batch_ids)
        .values("batch_id", "status")
        .annotate(n=Count("*"))  # covered by the (batch, status) index
    )
    for row in rows:
        progress[row["batch_id"]][row["status"]] = row["n"]
    return progress


def batch_error_groups(batch_id: int, *, limit: int = 10) -> list[dict]:
    """The batch's most common errors: status, error signature and count."""
    return list(
        MessageLog.objects.filter(batch_id=batch_id)
        .exclude(error_signature="")
        .values("status", "error_signature")
        .annotate(n=Count("id"))
        .order_by("-n")[:limit]
    )


def templates() -> QuerySet:
    return Template.objects.all()


def template_get(pk: int | None) -> Template | None:
    """The template with this id; ``None`` for no id or one out of range."""
    if pk is None or not 1 <= pk <= BIGINT_MAX:
        return None
    return Template.objects.filter(pk=pk).first()


def template_find(ref: int | str) -> Template | None:
    """A template by id, or by name (a name that is all digits falls back to
    the id it spells)."""
    if isinstance(ref, int):
        return template_get(ref)
    return Template.objects.filter(name=ref).first() or template_get(row_id(ref))
