"""Retrying failed messages: the scheduled cycle (the one-click retry is
services/manual_retry.py).

The cycle follows the seed rules of docs/design.md exactly:

* eligible: status ``failed``, ``retry_count < MAX_MESSAGE_RETRY_COUNT``,
  ``updated_at <= now - MESSAGE_RETRY_AFTER_HOURS`` (and ``next_retry_at <=
  now`` with exponential backoff), in a batch whose template still exists;
* max reached, or batch / template gone: ``permanently_failed``;
* invalid data (no recipient, context not an object): skipped and logged;
* the payload is regenerated from batch + template and enqueued in the
  backend's batch size; enqueued: ``pending``, ``retry_count + 1``; not
  enqueued: ``retry_count + 1``, stays ``failed`` (``permanently_failed`` at the
  max); queue unavailable: logged, the rest waits for the next cycle;
* one ``RetryRun`` row per cycle; ``dry_run`` changes nothing.

Messages are claimed chunk by chunk with a guarded update (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL), and the whole cycle runs under a lock, so two cycles
started at once never requeue a message twice.
"""

import logging
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from retry_admin import policy
from retry_admin.locks import held_lock, lock_is_held
from retry_admin.logevents import log_event
from retry_admin.models import (
    AuditEvent,
    MessageEvent,
    MessageLog,
    RetryRun,
)
from retry_admin.services.audit import actor_name, audit_record
from retry_admin.services.dispatch import dispatch
from retry_admin.services.events import message_events_record
from retry_admin.services.transitions import (
    messages_claim_for_retry,
    messages_give_up,
    messages_retry_not_enqueued,
)

logger = logging.getLogger(__name__)

CHUNK = 1000
CYCLE_LOCK = "retry-cycle"
BATCH_OR_TEMPLATE_GONE = policy.BATCH_OR_TEMPLATE_GONE
INTERRUPTED = "Interrupted: the process running it stopped before it finished"


class RetryCycleBusy(Exception):
    """Another retry cycle is running; this one did nothing."""


class RetryNoWorker(Exception):
    """No worker is alive to run a queued cycle; nothing was queued."""


def _claim_chunk(now, after: uuid.UUID | None, limit: int) -> tuple[list[tuple], list[uuid.UUID]]:
    """Select the next eligible chunk and flip the valid ones to pending.
    Returns (rows looked at, ids claimed)."""
    with transaction.atomic():
        qs = MessageLog.objects.eligible_for_retry(now)
        if after is not None:
            qs = qs.filter(id__gt=after)
        if connection.vendor == "postgresql":
            qs = qs.select_for_update(skip_locked=True, of=("self",))
        rows = list(qs.order_by("id").values_list("id", "recipient", "context")[:limit])
        valid = []
        for pk, recipient, context in rows:
            reason = policy.invalid_reason(recipient, context)
            if reason:  # its payload cannot be built: the design's "skip and log error"
                log_event(
                    logger,
                    logging.ERROR,
                    "retry_cycle.payload_invalid",
                    "Retry cycle skipped message %s: %s",
                    pk,
                    reason,
                    message_id=str(pk),
                    reason=reason,
                )
            else:
                valid.append(pk)
        claimed = messages_claim_for_retry(message_ids=valid, now=timezone.now())
        if claimed != len(valid):  # cannot happen under the row locks; never requeue blindly
            raise RuntimeError(f"claimed {claimed} of {len(valid)} locked rows")
    return rows, valid


def _plan(now) -> RetryRun:
    """What a cycle would do now, without doing it."""
    eligible = MessageLog.objects.eligible_for_retry(now)
    invalid = eligible.filter(policy.invalid_q()).count()
    selected = eligible.count()
    limit = settings.RETRY_CYCLE_LIMIT or None
    requeue = selected - invalid if limit is None else min(limit, selected - invalid)
    return RetryRun(
        dry_run=True,
        started_at=now,
        finished_at=timezone.now(),
        selected=selected,
        requeued=requeue,
        skipped=invalid,
        left=selected - invalid - requeue,
        permanently_failed=MessageLog.objects.out_of_retries().count(),
    )


def retry_cycle_run(
    *, trigger: str, user: AbstractBaseUser | None = None, dry_run: bool = False
) -> RetryRun:
    """Run one retry cycle now (see the module docstring for the rules).

    Raises ``RetryCycleBusy`` if another cycle holds the lock."""
    now = timezone.now()
    actor = user if user is not None and user.is_authenticated else None
    if dry_run:
        plan = _plan(now)
        plan.trigger, plan.actor = trigger, actor
        log_event(
            logger,
            logging.INFO,
            "retry_cycle.dry_run",
            "Retry cycle dry run by %s (%s): would requeue %d",
            actor_name(actor),
            trigger,
            plan.requeued,
            trigger=trigger,
            by=actor_name(actor),
            selected=plan.selected,
            requeued=plan.requeued,
            skipped=plan.skipped,
            left=plan.left,
        )
        return plan
    with held_lock(CYCLE_LOCK) as token:
        if token is None:
            raise RetryCycleBusy("Another retry cycle is running")
        # Under the lock, a run with no end is one whose process died.
        RetryRun.objects.filter(finished_at__isnull=True, dry_run=False).update(
            finished_at=now, error=INTERRUPTED
        )
        run = RetryRun.objects.create(trigger=trigger, actor=actor, started_at=now)
        if actor is not None:
            audit_record(user=actor, action=AuditEvent.Action.RETRY_CYCLE, target=f"run {run.pk}")
        log_event(
            logger,
            logging.INFO,
            "retry_cycle.started",
            "Retry cycle %s started (%s, by %s)",
            run.pk,
            trigger,
            actor_name(actor),
            run=run.pk,
            trigger=trigger,
            by=actor_name(actor),
            limit=settings.RETRY_CYCLE_LIMIT,
        )
        try:
            _run_cycle(run, now)
        except Exception as exc:
            run.error = f"{exc.__class__.__name__}: {exc}"
            log_event(
                logger,
                logging.ERROR,
                "retry_cycle.failed",
                "Retry cycle %s failed: %s",
                run.pk,
                run.error,
                exc_info=True,
                run=run.pk,
                error=run.error,
            )
            raise
        finally:
            run.finished_at = timezone.now()
            run.save()
        log_event(
            logger,
            logging.INFO,
            "retry_cycle.finished",
            "Retry cycle %s finished: selected=%d requeued=%d still_failed=%d "
            "permanently_failed=%d skipped=%d left=%d in %.2f s",
            run.pk,
            run.selected,
            run.requeued,
            run.still_failed,
            run.permanently_failed,
            run.skipped,
            run.left,
            run.duration_seconds or 0,
            run=run.pk,
            selected=run.selected,
            requeued=run.requeued,
            still_failed=run.still_failed,
            permanently_failed=run.permanently_failed,
            skipped=run.skipped,
            left=run.left,
            duration_seconds=round(run.duration_seconds or 0, 3),
            error=run.error,
        )
        return run


def retry_cycle_trigger(*, trigger: str, user: AbstractBaseUser | None = None) -> None:
    """Queue a cycle for the worker (console button, API). Raises
    ``RetryCycleBusy`` when one is already running, rather than queue one
    that would only be skipped, and ``RetryNoWorker`` when no worker beat
    recently (services/health.py), rather than queue one nobody runs."""
    from django_q.tasks import async_task

    from retry_admin.services.health import worker_alive  # health imports this module

    if lock_is_held(CYCLE_LOCK):  # held and renewed by a live cycle
        run = RetryRun.objects.filter(finished_at__isnull=True, dry_run=False).first()
        since = f" (started {run.started_at:%Y-%m-%d %H:%M:%S %Z})" if run else ""
        raise RetryCycleBusy(f"A retry cycle is already running{since}")
    if not worker_alive():
        raise RetryNoWorker(
            "No worker is running to pick it up (start `manage.py qcluster`, or `make run`)"
        )
    who = user.get_username() if user is not None else "system"
    async_task(
        "retry_admin.tasks.run_retry_cycle",
        trigger,
        getattr(user, "pk", None),
        task_name=f"retry cycle ({trigger}, {who})",
    )
    log_event(
        logger,
        logging.INFO,
        "retry_cycle.triggered",
        "Retry cycle triggered by %s (%s)",
        who,
        trigger,
        trigger=trigger,
        by=who,
    )


def _run_cycle(run: RetryRun, now) -> None:
    run.permanently_failed += messages_give_up(now=now)
    remaining = settings.RETRY_CYCLE_LIMIT or None
    after = None
    chunk = 0
    while remaining is None or remaining > 0:
        size = CHUNK if remaining is None else min(CHUNK, remaining)
        rows, claimed = _claim_chunk(now, after, size)
        if not rows:
            break
        after = rows[-1][0]
        chunk += 1
        run.selected += len(rows)
        run.skipped += len(rows) - len(claimed)
        if remaining is not None:
            remaining -= len(claimed)
        if not claimed:
            _log_chunk(run, chunk, rows, claimed, None)
            continue
        message_events_record(
            message_ids=claimed,
            kind=MessageEvent.Kind.RETRY_CYCLE,
            actor="system",
            detail=f"retry run {run.pk}",
        )
        result = dispatch(message_ids=claimed)
        run.requeued += result.enqueued
        by_reason: dict[str, list[uuid.UUID]] = {}
        for pk, reason in result.failed.items():
            by_reason.setdefault(reason, []).append(pk)
        for reason, ids in by_reason.items():
            still, permanent = messages_retry_not_enqueued(
                message_ids=ids, error=reason, now=timezone.now()
            )
            run.still_failed += still
            run.permanently_failed += permanent
        _log_chunk(run, chunk, rows, claimed, result)
        if result.error:
            run.error = f"Queue unavailable: {result.error}"
            log_event(
                logger,
                logging.ERROR,
                "retry_cycle.queue_unavailable",
                "Retry cycle %s stopped: queue unavailable (%s); the rest waits for the next cycle",
                run.pk,
                result.error,
                run=run.pk,
                error=str(result.error),
            )
            break
    if remaining == 0 and after is not None:  # capped: what it leaves for the next cycle
        run.left = (
            MessageLog.objects.eligible_for_retry(now)
            .filter(id__gt=after)
            .exclude(policy.invalid_q())
            .count()
        )


def _log_chunk(run: RetryRun, chunk: int, rows: list, claimed: list, result) -> None:
    """The design's "batch processing results": one line per chunk, and an
    ERROR line for the messages the queue did not take."""
    enqueued = result.enqueued if result is not None else 0
    not_enqueued = len(result.failed) if result is not None else 0
    log_event(
        logger,
        logging.INFO,
        "retry_cycle.chunk",
        "Retry cycle %s chunk %d: looked at %d, skipped %d, requeued %d, not enqueued %d",
        run.pk,
        chunk,
        len(rows),
        len(rows) - len(claimed),
        enqueued,
        not_enqueued,
        run=run.pk,
        chunk=chunk,
        selected=len(rows),
        skipped=len(rows) - len(claimed),
        requeued=enqueued,
        not_enqueued=not_enqueued,
    )
    if not_enqueued:
        reasons = sorted(set(result.failed.values()))
        log_event(
            logger,
            logging.ERROR,
            "retry_cycle.send_failed",
            "Retry cycle %s: the queue refused %d messages: %s",
            run.pk,
            not_enqueued,
            "; ".join(reasons)[:500],
            run=run.pk,
            count=not_enqueued,
            reasons=reasons[:10],
        )
