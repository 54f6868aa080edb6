"""Automatic DLQ reprocessing (DLQ_AUTO_REPLAY, off by default).

The SQS dead-letter design (../shared/seeds/, 001) reprocesses DLQ messages
"manually or automatically" with an exponential backoff. When on, a schedule
(schedules.py, every DLQ_AUTO_REPLAY_INTERVAL_MINUTES) replays each of our
envelopes once its wait has passed: DLQ_AUTO_REPLAY_BACKOFF_MINUTES after it
reached the DLQ, doubling after each automatic replay
(``policy.dlq_auto_replay_at``). After DLQ_AUTO_REPLAY_MAX_ATTEMPTS replays an
entry stays for an admin, as do bodies that are not ours (a consumer outside
this product may need them as they are: the admin decides to move them back
as-is). Replays go through ``services.dlq.dlq_replay``, so every transport
does it the same way, and each one is a timeline event in the automatic
reprocessing's name, which is how the replays of an entry are counted.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from retry_admin import selectors
from retry_admin.models import AuditEvent
from retry_admin.queues import QueueError
from retry_admin.selectors.dlq import AUTO_ACTOR, AUTO_HEARTBEAT
from retry_admin.services.audit import audit_record
from retry_admin.services.dlq import PAGE, dlq_replay
from retry_admin.services.health import heartbeat

logger = logging.getLogger(__name__)


@dataclass
class AutoReplayReport:
    enabled: bool = True
    seen: int = 0  # DLQ entries looked at (the oldest PAGE)
    replayed: int = 0
    waiting: int = 0  # backing off: due later
    exhausted: int = 0  # out of automatic replays: left for an admin
    foreign: int = 0  # not our envelope, or no message log: left for an admin
    left: dict[str, str] = field(default_factory=dict)  # due, but could not be moved
    error: str = ""


def dlq_auto_replay(*, now: datetime | None = None) -> AutoReplayReport:
    """One run of the automatic reprocessing: replay the entries due by
    ``now``. Records what it did as the ``dlq-auto-replay`` heartbeat (the DLQ
    page shows it) and in the audit log when it replayed anything."""
    if not settings.DLQ_AUTO_REPLAY:
        return AutoReplayReport(enabled=False)
    report = AutoReplayReport()
    now = now or timezone.now()
    try:
        entries = selectors.dlq_entries(limit=PAGE)
        due = []
        for entry in entries:
            if entry.message is None:
                report.foreign += 1
            elif entry.auto_next_at is None:
                report.exhausted += 1
            elif entry.auto_next_at > now:
                report.waiting += 1
            else:
                due.append(entry.id)
        report.seen = len(entries)
        if due:
            result = dlq_replay(ids=due, user=None, actor=AUTO_ACTOR)
            report.replayed, report.left = result.replayed, result.left
    except QueueError as exc:
        report.error = str(exc)
        logger.error("Automatic DLQ reprocessing could not read the queue: %s", exc)
    heartbeat(AUTO_HEARTBEAT, **vars(report))
    if report.replayed:
        audit_record(
            user=None,
            action=AuditEvent.Action.DLQ_REPLAY,
            target=AUTO_ACTOR,
            count=report.replayed,
            details={"replayed": report.replayed, "left": len(report.left)},
        )
    logger.info(
        "Automatic DLQ reprocessing: replayed=%d waiting=%d exhausted=%d foreign=%d left=%d",
        report.replayed,
        report.waiting,
        report.exhausted,
        report.foreign,
        len(report.left),
    )
    return report
