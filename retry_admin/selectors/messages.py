"""Messages: the filtered pages (console and API alike), one message, the
failure groups, and where the messages of a bulk retry are now."""

import uuid
from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db.models import CharField, Count, Max, Min
from django.db.models.functions import Cast

from retry_admin.filters import MessageFilter
from retry_admin.models import MessageEvent, MessageLog, Status
from retry_admin.selectors.counts import counts_by_status
from retry_admin.selectors.pages import Page, keyset_page

MessagePage = Page  # the name callers know

# Newest-first on a recipient prefix sorts every match: fine for a person's
# address, not for "+44". Past this many matches a list asks for more.
RECIPIENT_MATCH_LIMIT = 2_000


def _cursor(value: str | None) -> uuid.UUID | None:
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ValidationError({"cursor": "Malformed page cursor"}) from None


def recipient_matches(filters: MessageFilter) -> list[uuid.UUID] | None:
    """The ids of a recipient prefix's matches, read from the (recipient, id)
    index alone; ``None`` without a recipient filter. Raises ``ValidationError``
    past ``RECIPIENT_MATCH_LIMIT`` matches."""
    if not filters.recipient:
        return None
    matches = MessageFilter(recipient=filters.recipient).apply(MessageLog.objects.all())
    ids = list(matches.order_by().values_list("id", flat=True)[: RECIPIENT_MATCH_LIMIT + 1])
    if len(ids) > RECIPIENT_MATCH_LIMIT:
        raise ValidationError(
            {
                "recipient": f"More than {RECIPIENT_MATCH_LIMIT:,} messages start with "
                f"“{filters.recipient}”: type more of the address."
            }
        )
    return ids


def message_page(
    *,
    filters: MessageFilter,
    after: str | None = None,
    before: str | None = None,
    limit: int = 50,
    fields: Sequence[str] = (),
) -> Page:
    """Newest first, keyset-paginated on the (time-ordered) id: ``after`` a
    page's ``next_cursor`` for older messages, ``before`` its ``prev_cursor``
    for newer ones. A recipient prefix is matched on its index first (at most
    ``RECIPIENT_MATCH_LIMIT``, else ``ValidationError``), so that a page never
    walks the whole table looking for its matches. With ``fields``, only
    those columns are read (``batch__name`` for the batch's)."""
    after_id, before_id = _cursor(after), _cursor(before)
    messages = MessageLog.objects.select_related("batch")
    if fields:
        messages = messages.only(*fields)
    messages = filters.apply(messages)
    within = recipient_matches(filters)
    if within is not None:
        messages = messages.filter(id__in=within)
    return keyset_page(messages, older_than=after_id, newer_than=before_id, limit=limit)


def message_get(pk: uuid.UUID, *, with_attempts: bool = False) -> MessageLog | None:
    """One message with its batch and template (and its attempts, if asked)."""
    messages = MessageLog.objects.select_related("batch__template")
    if with_attempts:
        messages = messages.prefetch_related("attempts")
    return messages.filter(pk=pk).first()


def messages_by_ids(ids: Sequence[uuid.UUID]) -> list[MessageLog]:
    """These messages (unknown ids left out), newest first."""
    return list(MessageLog.objects.select_related("batch").filter(id__in=ids).order_by("-id"))


def unknown_message_ids(ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """The ids that name no message, in the order given (so an action on a
    list can be refused whole before anything is written)."""
    known: set[uuid.UUID] = set()
    for start in range(0, len(ids), 1000):
        part = ids[start : start + 1000]
        known.update(MessageLog.objects.filter(id__in=part).values_list("id", flat=True))
    return [pk for pk in ids if pk not in known]


def failure_groups(*, status: str = Status.PERMANENTLY_FAILED, limit: int = 100) -> list[dict]:
    """Failures grouped by error signature: count, first/last seen, a sample."""
    failures = MessageLog.objects.signed().filter(status=status)  # a failure is signed
    groups = list(
        failures.values("error_signature")
        .annotate(
            count=Count("*"),
            first_seen=Min("updated_at"),
            last_seen=Max("updated_at"),
            # The newest message of the group: ids are UUIDv7, so the largest
            # is the newest, and their text sorts like them. (A subquery here
            # would join the GROUP BY and run once per row.)
            sample_id=Max(Cast("id", CharField())),
        )
        .order_by("-count", "error_signature")[:limit]
    )
    for group in groups:
        group["sample_id"] = uuid.UUID(group["sample_id"])
    samples = MessageLog.objects.in_bulk([g["sample_id"] for g in groups])
    for group in groups:
        group["sample"] = samples.get(group["sample_id"])
    return groups


def manually_retried_counts(*, actor: str, since: datetime, until: datetime) -> dict[str, int]:
    """Where the messages ``actor`` retried by hand between ``since`` and
    ``until`` are now: counts by status."""
    retried = MessageEvent.objects.filter(
        kind=MessageEvent.Kind.MANUAL_RETRY,
        actor_name=actor,
        created_at__gte=since,
        created_at__lte=until,
    ).values("message_id")
    return counts_by_status(MessageLog.objects.filter(id__in=retried))
