"""The seed retry rules, in one place.

Every caller that asks "may this message be retried, and when?" asks here:
the retry cycle's selection, its dry run and its sweep, the sender recording
a failure, a failed re-enqueue, and the message page's outlook.

* **eligible**: status ``failed``, ``retry_count < MAX_MESSAGE_RETRY_COUNT``,
  quiet for ``MESSAGE_RETRY_AFTER_HOURS`` (``updated_at`` at or before
  ``now`` minus that), still in a batch with a template, and, with
  exponential backoff, past its own ``next_retry_at``.
* **exhausted**: ``retry_count`` has reached ``MAX_MESSAGE_RETRY_COUNT``; a
  failure then is permanent.
* **gone**: its batch or the batch's template no longer exists; it can never
  be rendered again, so it is permanently failed.
* **invalid**: no recipient, or a context that is not an object; the cycle
  skips it and logs why (``invalid_reason`` for one row, ``invalid_q`` for a
  query: the console's "invalid, skipped" filter and retention cleanup).
* **next retry time**: with ``RETRY_BACKOFF=fixed`` (the seed) none of its
  own; with ``exponential`` the wait doubles per retry made, ±20 % jitter so
  a failed batch does not come back as one wave.
"""

import random
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import CharField, Func, Q, Value
from django.db.models.lookups import Exact

FAILED = "failed"  # Status.FAILED; models import this module, not the reverse
BATCH_OR_TEMPLATE_GONE = "Batch or template no longer exists"

# What an admin may retry now (one click, bulk): failed and permanently
# failed logs are requeued; dead-lettered ones are replayed from the DLQ.
ADMIN_REQUEUEABLE = ("failed", "permanently_failed")
ADMIN_RETRYABLE = (*ADMIN_REQUEUEABLE, "dead_lettered")


def max_retries() -> int:
    return settings.MAX_MESSAGE_RETRY_COUNT


def is_exhausted(retry_count: int) -> bool:
    return retry_count >= settings.MAX_MESSAGE_RETRY_COUNT


# The failed logs, as every query of the retry rules names them, and the
# condition of their index (msg_status_retry). SQLite uses a partial index only
# for a query that names its whole condition; the retry_count term, always
# true (the column is NOT NULL), is there so that the messages page's list of
# failed logs ("status = failed", newest first) cannot take this index: SQLite
# took it for being smaller, then sorted every failed log (470 ms at a million
# logs) instead of walking msg_status_id in id order.
FAILED_Q = Q(status=FAILED, retry_count__isnull=False)


def gone_q() -> Q:
    return Q(batch__isnull=True) | Q(batch__template__isnull=True)


def exhausted_q() -> Q:
    """Failed logs out of retries."""
    return FAILED_Q & Q(retry_count__gte=settings.MAX_MESSAGE_RETRY_COUNT)


def never_retried_q() -> Q:
    """Failed logs the cycle can never retry: out of retries, or gone."""
    return exhausted_q() | (FAILED_Q & gone_q())


def eligible_q(now: datetime) -> Q:
    cutoff = now - timedelta(hours=settings.MESSAGE_RETRY_AFTER_HOURS)
    q = FAILED_Q & Q(
        retry_count__lt=settings.MAX_MESSAGE_RETRY_COUNT,
        updated_at__lte=cutoff,
        batch__isnull=False,
        batch__template__isnull=False,
    )
    if per_message_backoff():
        q &= Q(next_retry_at__isnull=True) | Q(next_retry_at__lte=now)
    return q


def invalid_reason(recipient: str, context: object) -> str | None:
    if not recipient or not recipient.strip():
        return "no recipient"
    if not isinstance(context, dict):
        return "context is not an object"
    return None


class JSONType(Func):
    """A JSON column's type ("object", "array", "string", ...)."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSON_TYPE", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        return super().as_sql(compiler, connection, function="JSONB_TYPEOF", **extra)


def invalid_q() -> Q:
    """``invalid_reason`` as a query: a blank recipient, or a context that is
    not a JSON object."""
    return Q(recipient__regex=r"^\s*$") | ~Q(Exact(JSONType("context"), Value("object")))


def per_message_backoff() -> bool:
    """Whether a failure gets a ``next_retry_at`` of its own."""
    return settings.RETRY_BACKOFF == "exponential"


def next_retry_at(*, retry_count: int, now: datetime) -> datetime | None:
    """When a message that just failed has waited enough, by its own clock
    (``None``: the cycle's ``MESSAGE_RETRY_AFTER_HOURS`` rule alone decides)."""
    if not per_message_backoff():
        return None
    base = settings.MESSAGE_RETRY_AFTER_HOURS * 3600 * (2**retry_count)
    return now + timedelta(seconds=base * random.uniform(0.8, 1.2))


def retry_due_at(*, updated_at: datetime, next_retry: datetime | None) -> datetime:
    """The earliest moment a failed message with retries left is eligible."""
    due = updated_at + timedelta(hours=settings.MESSAGE_RETRY_AFTER_HOURS)
    return max(due, next_retry) if next_retry else due


def dlq_auto_replay_at(
    *, attempts: int, dead_at: datetime | None, last_attempt_at: datetime | None
) -> datetime | None:
    """When the automatic DLQ reprocessing replays an entry next: it waits
    ``DLQ_AUTO_REPLAY_BACKOFF_MINUTES`` · 2^attempts from whichever is later,
    the entry's arrival in the DLQ or its last automatic replay. ``None`` once
    ``DLQ_AUTO_REPLAY_MAX_ATTEMPTS`` replays are spent: it is left for an admin."""
    if attempts >= settings.DLQ_AUTO_REPLAY_MAX_ATTEMPTS:
        return None
    since = max((t for t in (dead_at, last_attempt_at) if t is not None), default=None)
    if since is None:  # a transport that does not date its entries: at once
        return datetime.min.replace(tzinfo=UTC)
    return since + timedelta(minutes=settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES * 2**attempts)
