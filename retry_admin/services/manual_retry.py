"""Retrying messages now, one click (console, API, bulk retry): failed and
permanently failed ones are requeued once each, dead-lettered ones replayed
from the DLQ. The scheduled cycle is services/retry.py."""

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from retry_admin import policy
from retry_admin.filters import unique
from retry_admin.logevents import log_event
from retry_admin.models import AuditEvent, MessageEvent, MessageLog, Status
from retry_admin.services.audit import actor_name, audit_record
from retry_admin.services.dispatch import dispatch
from retry_admin.services.dlq import dlq_replay_messages
from retry_admin.services.events import message_events_record
from retry_admin.services.retry import CHUNK
from retry_admin.services.transitions import messages_retry_now

logger = logging.getLogger(__name__)


@dataclass
class ManualRetryResult:
    requeued: int = 0
    already_queued: int = 0
    not_retryable: int = 0
    dlq_replayed: int = 0


def message_retry(
    *, message_ids: Sequence[uuid.UUID], user: AbstractBaseUser | None, audit: bool = True
) -> ManualRetryResult:
    """Retry messages now, one click. Failed and permanently failed messages
    are requeued once each (a double click finds them pending and does
    nothing); dead-lettered ones are replayed from the DLQ. Audited."""
    ids = unique(message_ids)
    result = ManualRetryResult()
    now = timezone.now()
    who = actor_name(user)
    claimed: list[uuid.UUID] = []
    dead: list[uuid.UUID] = []
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        with transaction.atomic():
            statuses = dict(
                MessageLog.objects.filter(id__in=part)
                .select_for_update()
                .values_list("id", "status")
            )
            ready = [pk for pk in part if statuses.get(pk) in policy.ADMIN_REQUEUEABLE]
            messages_retry_now(message_ids=ready, now=now, actor=who)
        claimed.extend(ready)
        dead.extend(pk for pk in part if statuses.get(pk) == Status.DEAD_LETTERED)
        result.already_queued += sum(1 for pk in part if statuses.get(pk) == Status.PENDING)
        result.not_retryable += sum(
            1 for pk in part if statuses.get(pk) not in (*policy.ADMIN_RETRYABLE, Status.PENDING)
        )
    result.requeued = len(claimed)
    message_events_record(
        message_ids=dead, kind=MessageEvent.Kind.MANUAL_RETRY, actor=who, detail="from the DLQ"
    )
    if claimed:
        # A queue outage leaves them pending in the outbox: the dispatcher sends them later.
        dispatch(message_ids=claimed)
    if dead:
        result.dlq_replayed = dlq_replay_messages(message_ids=dead, user=None).replayed
    log_event(
        logger,
        logging.INFO,
        "message_retry.triggered",
        "%s retried %d messages now: %d requeued, %d replayed from the DLQ",
        who,
        len(ids),
        result.requeued,
        result.dlq_replayed,
        by=who,
        requested=len(ids),
        requeued=result.requeued,
        dlq_replayed=result.dlq_replayed,
        already_queued=result.already_queued,
        not_retryable=result.not_retryable,
    )
    if not audit:
        return result
    audit_record(
        user=user,
        action=AuditEvent.Action.MESSAGE_RETRY,
        target=str(ids[0]) if len(ids) == 1 else f"{len(ids)} messages",
        count=result.requeued + result.dlq_replayed,
        details={
            "requested": len(ids),
            "requeued": result.requeued,
            "dlq_replayed": result.dlq_replayed,
            "already_queued": result.already_queued,
            "not_retryable": result.not_retryable,
        },
    )
    return result
