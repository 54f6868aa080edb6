"""django-q2 entry points: each calls one service, nothing else."""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from retry_admin.locks import exclusive
from retry_admin.models import RetryRun
from retry_admin.services.alerts import alerts_evaluate
from retry_admin.services.cleanup import cleanup_run
from retry_admin.services.dispatch import dispatch
from retry_admin.services.dlq import dlq_reconcile
from retry_admin.services.dlq_auto import dlq_auto_replay
from retry_admin.services.health import heartbeat, worker_beats_start
from retry_admin.services.mirror import mirror_run
from retry_admin.services.retry import RetryCycleBusy, retry_cycle_run
from retry_admin.services.runner import sender_runner_alive
from retry_admin.services.sender import sender_drain

logger = logging.getLogger(__name__)

SENDER_RUN_SECONDS = 50


@exclusive("sender-schedule", what="sender")
def send_queued_messages() -> dict:
    """Every minute, the safety net behind the long-running sender
    (services/runner.py): stands aside while one is alive; otherwise drains
    the queue for up to ~50 s, polling every SENDER_POLL_SECONDS. The lock
    stops two runs overlapping."""
    if sender_runner_alive():
        return {"skipped": "the long-running sender (run_sender) is alive"}
    return vars(sender_drain(seconds=SENDER_RUN_SECONDS))


@exclusive("dlq-reconcile", what="reconcile")
def reconcile_dlq() -> dict:
    """Every 5 minutes: mark the logs of messages the queue dead-lettered by
    itself (SQS redrive). Apart from the sender: on SQS reading the DLQ is a
    receive-and-release scan that must not delay or outlive the sender's lock."""
    return {"reconciled": dlq_reconcile()}


@exclusive("dlq-auto-replay", what="automatic DLQ reprocessing")
def auto_replay_dlq() -> dict:
    """Every DLQ_AUTO_REPLAY_INTERVAL_MINUTES, when DLQ_AUTO_REPLAY is on:
    replay the DLQ entries whose backoff has passed (services/dlq_auto.py)."""
    return vars(dlq_auto_replay())


@exclusive("alerts", what="alert evaluation")
def evaluate_alerts() -> dict:
    """Every minute: evaluate the alert rules (services/alerts.py)."""
    return {"events": [f"{e.rule.kind} {e.kind}" for e in alerts_evaluate()]}


@exclusive("dispatcher", what="dispatcher")
def dispatch_outbox() -> dict:
    """Every minute: enqueue pending logs that never reached the queue
    (queue was down). The grace period leaves fresh ones to their own
    after-commit dispatch."""
    result = dispatch(older_than=timezone.now() - timedelta(seconds=60))
    return {"enqueued": result.enqueued, "error": result.error}


def run_retry_cycle(trigger: str = RetryRun.Trigger.SCHEDULE, user_id: int | None = None) -> dict:
    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        run = retry_cycle_run(trigger=trigger, user=user)
    except RetryCycleBusy as exc:
        logger.info("%s", exc)
        return {"skipped": str(exc)}
    return {"run": run.pk, "requeued": run.requeued, "selected": run.selected}


def cleanup_old_messages() -> dict:
    return {"deleted": cleanup_run(days=settings.RETENTION_DAYS)}


def scheduler_heartbeat() -> None:
    heartbeat("scheduler")


def worker_started() -> None:
    """In each new django-q2 worker process (post_spawn, apps.py)."""
    worker_beats_start()


def mirror_tables() -> dict:
    """Every minute, when AZURE_TABLES_MIRROR is on: write changed batches and
    logs through to Table Storage."""
    if not settings.AZURE_TABLES_MIRROR:
        return {"skipped": "AZURE_TABLES_MIRROR is off"}
    return _mirror()


@exclusive("table-mirror", what="mirror")
def _mirror() -> dict:
    report = mirror_run()
    return {"written": report.written, "error": report.error}
