"""Bulk retry with a preview: what is previewed is exactly what runs.

The preview freezes its selection at the moment it was made: a message that
fails after the preview (its ``updated_at`` is later) is not swept in. The
token carries the filter and that moment, signed, so a page or an API client
can hand it back to run it.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from retry_admin.filters import MessageFilter
from retry_admin.models import AuditEvent, MessageLog, Status
from retry_admin.services.audit import audit_record
from retry_admin.services.retry import CHUNK, ManualRetryResult, message_retry

RETRYABLE_STATUSES = (Status.FAILED, Status.PERMANENTLY_FAILED, Status.DEAD_LETTERED)
TOKEN_SALT = "retry_admin.bulk_retry"
TOKEN_MAX_AGE = 3600


class PreviewExpired(Exception):
    """The preview token is malformed, tampered with or older than an hour."""


@dataclass
class BulkRetryPreview:
    count: int
    as_of: datetime
    token: str
    filters: MessageFilter
    sample: list[MessageLog]


def _selection(filters: MessageFilter, as_of: datetime):
    qs = filters.apply(MessageLog.objects.all()).filter(updated_at__lte=as_of)
    if filters.status:
        return qs if filters.status in RETRYABLE_STATUSES else qs.none()
    return qs.filter(status__in=RETRYABLE_STATUSES)


def bulk_retry_preview(*, filters: MessageFilter, sample_size: int = 10) -> BulkRetryPreview:
    """Count what a bulk retry of ``filters`` would retry, now."""
    as_of = timezone.now()
    qs = _selection(filters, as_of)
    token = signing.dumps(
        {"filters": filters.as_params(), "as_of": as_of.isoformat()}, salt=TOKEN_SALT
    )
    return BulkRetryPreview(
        count=qs.count(),
        as_of=as_of,
        token=token,
        filters=filters,
        sample=list(qs.select_related("batch").order_by("-id")[:sample_size]),
    )


def bulk_retry_run(*, token: str, user: AbstractBaseUser | None) -> ManualRetryResult:
    """Retry exactly the previewed selection; audited once."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        filters = MessageFilter.from_params(data["filters"])
        as_of = parse_datetime(data["as_of"])
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PreviewExpired("This preview has expired or is invalid; preview again") from exc
    if as_of is None:
        raise PreviewExpired("This preview has expired or is invalid; preview again")
    total = ManualRetryResult()
    qs = _selection(filters, as_of).order_by("id")
    after: uuid.UUID | None = None
    while True:
        page = qs if after is None else qs.filter(id__gt=after)
        ids = list(page.values_list("id", flat=True)[:CHUNK])
        if not ids:
            break
        after = ids[-1]
        result = message_retry(message_ids=ids, user=user, audit=False)
        total.requeued += result.requeued
        total.already_queued += result.already_queued
        total.not_retryable += result.not_retryable
        total.dlq_replayed += result.dlq_replayed
    audit_record(
        user=user,
        action=AuditEvent.Action.MESSAGE_RETRY,
        target="bulk: " + (", ".join(f"{k}={v}" for k, v in filters.as_params().items()) or "all"),
        count=total.requeued + total.dlq_replayed,
        details={"filters": filters.as_params(), "as_of": as_of.isoformat(), **vars(total)},
    )
    return total
