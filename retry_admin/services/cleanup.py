"""Retention: old finished message logs and their attempts are deleted."""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, Status

logger = logging.getLogger(__name__)

CHUNK = 2000


def cleanup_run(*, days: int | None = None) -> int:
    """Delete ``sent`` and ``permanently_failed`` logs untouched for
    ``RETENTION_DAYS``; returns how many. Pending, failed and dead-lettered
    logs are never deleted: they are work still owed."""
    days = settings.RETENTION_DAYS if days is None else days
    cutoff = timezone.now() - timedelta(days=days)
    old = MessageLog.objects.filter(
        status__in=[Status.SENT, Status.PERMANENTLY_FAILED], updated_at__lt=cutoff
    )
    deleted = 0
    while True:
        ids = list(old.values_list("id", flat=True)[:CHUNK])
        if not ids:
            break
        with transaction.atomic():
            DeliveryAttempt.objects.filter(message_id__in=ids).delete()
            _, per_model = MessageLog.objects.filter(id__in=ids).delete()
            deleted += per_model.get(MessageLog._meta.label, 0)
    HourlyCount.fold_before(cutoff)  # kept as totals: /metrics counts never go down
    logger.info("Retention cleanup deleted %d message logs older than %d days", deleted, days)
    return deleted
