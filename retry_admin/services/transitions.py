"""Every status change of a message log, in one place.

Each function changes statuses in bulk (one statement per kind of change,
never a row at a time), guarded by the status it expects, and records what
goes with the change: its timeline event and its hourly count. Callers
decide *when* a message changes; this module is *how*.

```
pending ─ sent by the channel ─────────────────────────▶ sent
   │  ├─ transient failure ────────────────────────────▶ failed
   │  ├─ permanent failure, or out of retries ─────────▶ permanently_failed
   │  ├─ received past QUEUE_MAX_RECEIVES ─────────────▶ dead_lettered
   │  └─ a retry that could not be enqueued ───────────▶ failed | permanently_failed
failed ─ retry cycle (retry_count + 1) ────────────────▶ pending
failed ─ out of retries, or batch/template gone ───────▶ permanently_failed
failed | permanently_failed ─ one-click or bulk retry ─▶ pending
dead_lettered ─ replay (back if the move fails) ───────▶ pending
dead_lettered ─ purge ─────────────────────────────────▶ permanently_failed
```
"""

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import NamedTuple

from django.db import connection
from django.db.models import F
from django.utils import timezone

from retry_admin import policy
from retry_admin.models import (
    HourlyCount,
    MessageEvent,
    MessageLog,
    Source,
    Status,
    error_signature,
)
from retry_admin.models.rawsql import datetime_param, in_list, uuid_param
from retry_admin.services.events import message_events_record

_LOG = MessageLog._meta.db_table


# The sender's outcomes

_SENT = (
    f"UPDATE {_LOG} SET status = %s, sent_at = %s, updated_at = %s, last_error = '',"
    " next_retry_at = NULL, lease_token = NULL, lease_expires_at = NULL,"
    " receive_count = %s, attempt_count = attempt_count + 1"
)


class Failure(NamedTuple):
    """A delivery that failed, as ``messages_record_outcomes`` records it."""

    db_id: object  # the log's id as the database holds it
    error: str
    permanent: bool
    retry_count: int
    attempt_count: int  # before this attempt
    receive_count: int


def messages_record_outcomes(
    *,
    sent_by_receives: dict[int, list[object]],
    failures: Sequence[Failure],
    lease_token: uuid.UUID,
    now: datetime,
) -> Counter:
    """Record a group of deliveries: ``sent_by_receives`` maps a receive count
    to the ids (as the database holds them) sent at it. One statement per
    receive count for the sent ones, one look-up and one ``executemany`` for
    the failures, one upsert of the hour's counts. Returns how many became
    sent, failed and permanently failed."""
    counts: Counter = Counter()
    when = datetime_param(now)
    with connection.cursor() as cursor:
        for receives, ids in sent_by_receives.items():
            # Not guarded by the lease: a send the channel reported as done is
            # recorded even if a stalled sender lost its lease meanwhile (only a
            # log already sent is left alone, so nothing is counted twice).
            where, params = in_list("id", ids)
            args = [Status.SENT.value, when, when, receives, *params, Status.SENT.value]
            # An UPDATE rewrites its entry in every index of a column it sets,
            # even to the same value: logs without an error signature (first
            # attempts) are marked sent without setting it. The logs that
            # carry an earlier attempt's error are left to the second
            # statement, which a chunk of first attempts never needs.
            cursor.execute(f"{_SENT} WHERE {where} AND status <> %s AND error_signature = ''", args)
            counts["sent"] += cursor.rowcount
            if cursor.rowcount < len(ids):
                cursor.execute(
                    f"{_SENT}, error_signature = '' WHERE {where} AND status <> %s", args
                )
                counts["sent"] += cursor.rowcount
        if failures:
            # Guarded by the lease: a sender whose lease ran out must not
            # overwrite (or count) the outcome of the one that took over.
            token = uuid_param(lease_token)
            where, params = in_list("id", [f.db_id for f in failures])
            cursor.execute(
                f"SELECT id FROM {_LOG} WHERE {where} AND lease_token = %s", [*params, token]
            )
            still_leased = {row[0] for row in cursor.fetchall()}
            rows = []
            for f in failures:
                if f.db_id not in still_leased:
                    continue
                if f.permanent or policy.is_exhausted(f.retry_count):
                    status, retry_at = Status.PERMANENTLY_FAILED, None
                else:
                    status = Status.FAILED
                    retry_at = policy.next_retry_at(retry_count=f.retry_count, now=now)
                counts[status.value] += 1  # "failed" or "permanently_failed"
                rows.append(
                    (
                        status.value,
                        f.error,
                        error_signature(f.error),
                        datetime_param(retry_at),
                        f.attempt_count + 1,
                        f.receive_count,
                        when,
                        f.db_id,
                        token,
                    )
                )
            if rows:
                cursor.executemany(
                    f"UPDATE {_LOG} SET status = %s, last_error = %s, error_signature = %s,"
                    " next_retry_at = %s, attempt_count = %s, receive_count = %s,"
                    " updated_at = %s, lease_token = NULL, lease_expires_at = NULL"
                    " WHERE id = %s AND lease_token = %s",
                    rows,
                )
    HourlyCount.add(**counts)
    return counts


def messages_dead_letter(
    *,
    message_ids: Iterable[uuid.UUID],
    reason: str,
    actor: str,
    receive_counts: dict[uuid.UUID, int] | None = None,
) -> int:
    """Any status but sent → dead-lettered. Moving the envelopes is the caller's part.

    ``receive_counts``: how many times the queue delivered each message, as its
    DLQ entry will say, so the log and the entry agree."""
    message_ids = list(message_ids)
    receive_counts = receive_counts or {}
    by_count: dict[int | None, list[uuid.UUID]] = {}
    for pk in message_ids:
        by_count.setdefault(receive_counts.get(pk), []).append(pk)
    changed = 0
    for receives, ids in by_count.items():
        extra = {} if receives is None else {"receive_count": receives}
        changed += (
            MessageLog.objects.filter(id__in=ids)
            .exclude(status=Status.SENT)
            .update(
                status=Status.DEAD_LETTERED,
                last_error=reason,
                error_signature=error_signature(reason),
                updated_at=timezone.now(),
                lease_token=None,
                lease_expires_at=None,
                dead_letter_count=F("dead_letter_count") + 1,
                **extra,
            )
        )
    message_events_record(
        message_ids=message_ids, kind=MessageEvent.Kind.DEAD_LETTERED, actor=actor, detail=reason
    )
    HourlyCount.add(dead_lettered=changed)
    return changed


# The retry cycle


def messages_give_up(*, now: datetime) -> int:
    """Failed logs the cycle can never retry → permanently failed: those whose
    batch or template is gone, and those out of retries."""
    gone = MessageLog.objects.filter(status=Status.FAILED).filter(policy.gone_q())
    given_up = MessageLog.objects.filter(id__in=gone.values("id")).update(
        status=Status.PERMANENTLY_FAILED,
        last_error=policy.BATCH_OR_TEMPLATE_GONE,
        error_signature=policy.BATCH_OR_TEMPLATE_GONE,
        next_retry_at=None,
        updated_at=now,
    )
    given_up += MessageLog.objects.filter(policy.exhausted_q()).update(
        status=Status.PERMANENTLY_FAILED, next_retry_at=None, updated_at=now
    )
    return given_up


def messages_claim_for_retry(*, message_ids: Sequence[uuid.UUID], now: datetime) -> int:
    """Failed → pending for the retry cycle, spending one retry."""
    return MessageLog.objects.filter(id__in=message_ids, status=Status.FAILED).update(
        status=Status.PENDING,
        retry_count=F("retry_count") + 1,
        enqueue_source=Source.RETRY,
        enqueued_at=None,
        next_retry_at=None,
        updated_at=now,  # claim time: the outbox grace period counts from it
    )


def messages_retry_not_enqueued(
    *, message_ids: Sequence[uuid.UUID], error: str, now: datetime
) -> tuple[int, int]:
    """A claimed retry the queue refused: the retry stays spent and the log
    goes back to failed, or to permanently failed at the maximum. Returns
    (still failed, permanently failed)."""
    base = MessageLog.objects.filter(
        id__in=message_ids, status=Status.PENDING, enqueued_at__isnull=True
    )
    signature = error_signature(error)
    permanent = base.filter(retry_count__gte=policy.max_retries()).update(
        status=Status.PERMANENTLY_FAILED,
        last_error=error,
        error_signature=signature,
        updated_at=now,
    )
    still = base.update(
        status=Status.FAILED,
        last_error=error,
        error_signature=signature,
        next_retry_at=None,
        updated_at=now,
    )
    if policy.per_message_backoff():
        rows = list(
            MessageLog.objects.filter(id__in=message_ids, status=Status.FAILED).only("retry_count")
        )
        for log in rows:
            log.next_retry_at = policy.next_retry_at(retry_count=log.retry_count, now=now)
        MessageLog.objects.bulk_update(rows, ["next_retry_at"], batch_size=500)
    return still, permanent


def messages_not_enqueueable(*, message_ids: Sequence[uuid.UUID], error: str, now: datetime) -> int:
    """Pending logs of the outbox whose envelope the queue can never take
    (too large): permanently failed with ``error``, never enqueued. An
    admin's retry, once the cause is fixed, sends them again."""
    # Pending whether or not enqueued_at was set: a new batch on the db queue
    # marks its logs enqueued in the transaction that sends their bodies.
    changed = MessageLog.objects.filter(id__in=message_ids, status=Status.PENDING).update(
        status=Status.PERMANENTLY_FAILED,
        last_error=error,
        error_signature=error_signature(error),
        next_retry_at=None,
        lease_token=None,
        lease_expires_at=None,
        updated_at=now,
    )
    HourlyCount.add(permanently_failed=changed)
    return changed


# Admins


def messages_retry_now(*, message_ids: Sequence[uuid.UUID], now: datetime, actor: str) -> int:
    """Failed or permanently failed → pending, by an admin (one-click or
    bulk): one more attempt, without spending the cycle's retries."""
    changed = (
        MessageLog.objects.filter(id__in=message_ids)
        .filter(status__in=policy.ADMIN_REQUEUEABLE)
        .update(
            status=Status.PENDING,
            enqueue_source=Source.MANUAL,
            enqueued_at=None,
            next_retry_at=None,
            updated_at=now,
        )
    )
    message_events_record(message_ids=message_ids, kind=MessageEvent.Kind.MANUAL_RETRY, actor=actor)
    return changed


def messages_replayed(*, message_ids: Sequence[uuid.UUID], now: datetime) -> int:
    """Any status but sent → pending, its envelope back on the main queue."""
    return (
        MessageLog.objects.filter(id__in=message_ids)
        .exclude(status=Status.SENT)
        .update(
            status=Status.PENDING,
            enqueue_source=Source.DLQ_REPLAY,
            enqueued_at=now,
            receive_count=0,
            lease_token=None,
            lease_expires_at=None,
            updated_at=now,
        )
    )


def messages_replay_undone(*, message_ids: Sequence[uuid.UUID], now: datetime) -> int:
    """A replay whose envelope could not leave the DLQ: back to dead-lettered."""
    return MessageLog.objects.filter(
        id__in=message_ids, status=Status.PENDING, enqueue_source=Source.DLQ_REPLAY
    ).update(status=Status.DEAD_LETTERED, updated_at=now)


def messages_purged(
    *, message_ids: Sequence[uuid.UUID] | None, reason: str, actor: str, now: datetime
) -> int:
    """Dead-lettered → permanently failed, their DLQ entries deleted (``None``:
    every dead-lettered log)."""
    logs = MessageLog.objects.filter(status=Status.DEAD_LETTERED)
    if message_ids is not None:
        logs = logs.filter(id__in=list(message_ids))
    purged_ids = list(logs.values_list("id", flat=True))
    changed = MessageLog.objects.filter(id__in=purged_ids, status=Status.DEAD_LETTERED).update(
        status=Status.PERMANENTLY_FAILED,
        last_error=reason,
        error_signature=error_signature(reason),
        updated_at=now,
    )
    message_events_record(message_ids=purged_ids, kind=MessageEvent.Kind.DLQ_PURGE, actor=actor)
    return changed
