"""Retention: old finished message logs and their attempts are deleted, and
failed ones the retry cycle will never take (the design's "failed messages
older than the retention period are cleaned up")."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from retry_admin import policy
from retry_admin.logevents import log_event
from retry_admin.models import AuditEvent, DeliveryAttempt, HourlyCount, MessageLog, Status
from retry_admin.services.audit import audit_record

logger = logging.getLogger(__name__)

CHUNK = 2000
AUDITED_IDS = 100  # the audit row names this many of the deleted failed messages


def cleanup_run(*, days: int | None = None) -> int:
    """Delete logs untouched for ``RETENTION_DAYS``; returns how many.

    * ``sent`` and ``permanently_failed``: always.
    * ``failed``: with ``RETENTION_FAILED=invalid`` (the default) only those
      with invalid data (``policy.invalid_q``), which the retry cycle skips
      every time; with ``all``, every one (the design's literal rule). Either
      way an ``AuditEvent`` records how many and which.

    Pending and dead-lettered logs are never deleted: they are work owed, as
    are valid failed ones by default (a capped cycle may take weeks to reach
    a large backlog)."""
    days = settings.RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    old = MessageLog.objects.filter(
        status__in=[Status.SENT, Status.PERMANENTLY_FAILED], updated_at__lt=cutoff
    )
    deleted, _ = _delete(old)
    failed = MessageLog.objects.filter(policy.FAILED_Q, updated_at__lt=cutoff)
    if settings.RETENTION_FAILED == "invalid":
        failed = failed.filter(policy.invalid_q())
    expired, sample = _delete(failed)
    if expired:
        audit_record(
            user=None,
            action=AuditEvent.Action.RETENTION_CLEANUP,
            target=f"{expired} failed messages older than {days} days",
            count=expired,
            details={"days": days, "rule": settings.RETENTION_FAILED, "ids": sample},
        )
    HourlyCount.fold_before(cutoff)  # kept as totals: /metrics counts never go down
    log_event(
        logger,
        logging.INFO,
        "retention.cleanup",
        "Retention cleanup deleted %d finished and %d failed message logs older than %d days",
        deleted,
        expired,
        days,
        finished=deleted,
        failed=expired,
        days=days,
        rule=settings.RETENTION_FAILED,
    )
    return deleted + expired


def _delete(logs) -> tuple[int, list[str]]:
    """Delete ``logs`` and their attempts chunk by chunk; returns how many and
    the first AUDITED_IDS ids."""
    deleted, sample = 0, []
    while True:
        ids = list(logs.values_list("id", flat=True)[:CHUNK])
        if not ids:
            return deleted, sample
        with transaction.atomic():
            DeliveryAttempt.objects.filter(message_id__in=ids).delete()
            _, per_model = MessageLog.objects.filter(id__in=ids).delete()
            deleted += per_model.get(MessageLog._meta.label, 0)
        sample += [str(pk) for pk in ids[: AUDITED_IDS - len(sample)]]
