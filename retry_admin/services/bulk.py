"""Bulk retry with a preview: what is previewed is exactly what runs.

The preview freezes its selection at the moment it was made: a message that
fails after the preview (its ``updated_at`` is later) is not swept in. The
preview breaks the selection down by status and error group; the console
leaves out the permanent ones unless the admin ticks them. The token carries
the filter, the groups taken and that moment, signed, so a page or an API
client can hand it back to run it.
"""

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.db.models import BooleanField, Case, Count, Q, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from retry_admin import policy
from retry_admin.filters import MessageFilter
from retry_admin.models import AuditEvent, MessageLog, Status
from retry_admin.services.audit import audit_record
from retry_admin.services.manual_retry import ManualRetryResult, message_retry
from retry_admin.services.retry import CHUNK

TOKEN_SALT = "retry_admin.bulk_retry"
TOKEN_MAX_AGE = 3600


class PreviewExpired(Exception):
    """The preview token is malformed, tampered with or older than an hour."""


GROUP_LIMIT = 100
GroupKey = tuple[str, str, bool]  # (status, error signature, out of retries)


@dataclass
class RetryGroup:
    """One part of a bulk retry's selection: a status and an error group."""

    status: str
    error_signature: str
    spent: bool  # permanently failed after every retry, not on a permanent error
    count: int
    included: bool = True

    @property
    def key(self) -> GroupKey:
        return (self.status, self.error_signature, self.spent)

    @property
    def permanent(self) -> bool:
        """Retrying is unlikely to help (a permanent error such as an opt-out
        or a 4xx, data gone, or a dead-letter loop): left out unless ticked."""
        if self.status == Status.DEAD_LETTERED:
            return True
        return self.status == Status.PERMANENTLY_FAILED and not self.spent

    @property
    def value(self) -> str:
        return json.dumps(list(self.key))


@dataclass
class BulkRetryPreview:
    count: int
    as_of: datetime
    token: str
    filters: MessageFilter
    sample: list[MessageLog]
    groups: list[RetryGroup] = field(default_factory=list)
    more_groups: int = 0  # beyond GROUP_LIMIT: left out

    @property
    def left_out(self) -> int:
        return sum(g.count for g in self.groups if not g.included)


def _selection(filters: MessageFilter, as_of: datetime):
    qs = filters.apply(MessageLog.objects.all()).filter(updated_at__lte=as_of)
    if filters.status:
        return qs if filters.status in policy.ADMIN_RETRYABLE else qs.none()
    return qs.filter(status__in=policy.ADMIN_RETRYABLE)


def _group_q(key: GroupKey) -> Q:
    status, signature, spent = key
    q = Q(status=status, error_signature=signature)
    if status == Status.PERMANENTLY_FAILED:
        limit = settings.MAX_MESSAGE_RETRY_COUNT
        q &= Q(retry_count__gte=limit) if spent else Q(retry_count__lt=limit)
    return q


def _only(qs, groups: list[GroupKey] | None):
    if groups is None:
        return qs
    if not groups:
        return qs.none()
    wanted = Q()
    for key in groups:
        wanted |= _group_q(key)
    return qs.filter(wanted)


def retry_groups(qs) -> tuple[list[RetryGroup], int]:
    """The selection by status and error group, largest first (and how many
    groups there are beyond ``GROUP_LIMIT``)."""
    spent = Case(
        When(
            status=Status.PERMANENTLY_FAILED,
            retry_count__gte=settings.MAX_MESSAGE_RETRY_COUNT,
            then=Value(True),
        ),
        default=Value(False),
        output_field=BooleanField(),
    )
    rows = list(
        qs.annotate(spent=spent)
        .values("status", "error_signature", "spent")
        .annotate(n=Count("*"))
        .order_by("-n", "status", "error_signature")[: GROUP_LIMIT + 1]
    )
    groups = [
        RetryGroup(r["status"], r["error_signature"], bool(r["spent"]), r["n"])
        for r in rows[:GROUP_LIMIT]
    ]
    return groups, max(0, len(rows) - GROUP_LIMIT)


def bulk_retry_preview(
    *,
    filters: MessageFilter,
    groups: list[GroupKey] | None = None,
    choose: bool = False,
    sample_size: int = 10,
) -> BulkRetryPreview:
    """Count what a bulk retry of ``filters`` would retry, now, broken down by
    status and error group. Without ``choose`` every group is taken; with it,
    ``groups`` names the ones to take, and ``None`` means the default: every
    group but the permanent ones, unless the filter names an error group (the
    admin picked that one)."""
    as_of = timezone.now()
    qs = _selection(filters, as_of)
    breakdown, more = retry_groups(qs)
    if not choose:
        chosen = None
    elif groups is None:
        chosen = [g.key for g in breakdown if filters.error or not g.permanent]
    else:
        shown = {g.key for g in breakdown}
        chosen = [key for key in groups if key in shown]
    for group in breakdown:
        group.included = chosen is None or group.key in chosen
    qs = _only(qs, chosen)
    token = signing.dumps(
        {
            "filters": filters.as_params(),
            "as_of": as_of.isoformat(),
            "groups": None if chosen is None else [list(key) for key in chosen],
        },
        salt=TOKEN_SALT,
    )
    return BulkRetryPreview(
        count=qs.count(),
        as_of=as_of,
        token=token,
        filters=filters,
        sample=list(qs.select_related("batch").order_by("-id")[:sample_size]),
        groups=breakdown,
        more_groups=more,
    )


def parse_group(value: str) -> GroupKey | None:
    """A group from a form's checkbox value; ``None`` for anything else."""
    try:
        status, signature, spent = json.loads(value)
    except (ValueError, TypeError):
        return None
    if status not in policy.ADMIN_RETRYABLE or not isinstance(signature, str):
        return None
    return (status, signature, bool(spent))


def bulk_retry_run(*, token: str, user: AbstractBaseUser | None) -> ManualRetryResult:
    """Retry exactly the previewed selection; audited once."""
    try:
        data = signing.loads(token, salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
        filters = MessageFilter.from_params(data["filters"])
        as_of = parse_datetime(data["as_of"])
        groups = data.get("groups")
        groups = None if groups is None else [(st, sig, bool(sp)) for st, sig, sp in groups]
    except (signing.BadSignature, KeyError, TypeError, ValueError) as exc:
        raise PreviewExpired("This preview has expired or is invalid; preview again") from exc
    if as_of is None:
        raise PreviewExpired("This preview has expired or is invalid; preview again")
    total = ManualRetryResult()
    qs = _only(_selection(filters, as_of), groups).order_by("id")
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
