"""Heartbeats of the long-running parts, the retry service's status and the
health verdicts built on them (docs/deploy.md, "Health checks").

Two answers:

* ``liveness()``: the web server answers and the database takes a query.
  200 from the first second; what a process supervisor restarts the web
  server on.
* ``health_check()``: readiness in detail (``/healthz``): database, queue,
  worker, scheduler, sender and the retry cycle, each ``ok``, ``starting``
  (just started, not reported yet) or ``down``; ``healthy`` only if all are
  ``ok``.
"""

import logging
import os
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.db import DatabaseError, connection, connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from retry_admin.locks import lock_is_held
from retry_admin.logevents import log_event
from retry_admin.models import Heartbeat, RetryRun
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.selectors import queue_status
from retry_admin.services.retry import CYCLE_LOCK

SCHEDULER = "scheduler"
SENDER = "sender"
RUNNER_BEAT = "sender-runner"  # the long-running sender (services/runner.py)
WORKER = "worker"

# A part is alive if it beat within this many seconds: the scheduler beats
# every minute, the sender every few seconds while it runs (the long-running
# one every BEAT seconds while idle too), each worker process every
# WORKER_BEAT_SECONDS.
STALE_AFTER = {WORKER: 30, SCHEDULER: 180, SENDER: 180}
WORKER_BEAT_SECONDS = 5
# After a start, a part that has not reported yet is "starting", not "down":
# a fresh worker's scheduler ticks after ~30 s and the heartbeat schedule is
# due within the minute after that.
STARTING_SECONDS = 120
# When this process (the web server) started: the system's start, as far as
# /healthz can tell, until a worker reports its own.
PROCESS_STARTED = timezone.now()


def heartbeat(name: str, **details: object) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "details": details}
    )


def worker_beats_start() -> threading.Thread:
    """Beat ``worker`` every WORKER_BEAT_SECONDS from this process (a django-q2
    worker, at spawn) until its cluster dies: a worker process whose parent
    was killed is re-parented and stops beating, so /healthz sees the loss in
    seconds, not when the next scheduler tick is missed."""
    parent = os.getppid()
    started = timezone.now().isoformat()

    def beat() -> None:
        while os.getppid() == parent:
            try:
                heartbeat(WORKER, cluster_pid=parent, pid=os.getpid(), started_at=started)
            except DatabaseError:
                connections.close_all()  # down: try again next round
            time.sleep(WORKER_BEAT_SECONDS)
        connections.close_all()

    thread = threading.Thread(target=beat, name="worker-heartbeat", daemon=True)
    thread.start()
    return thread


def worker_alive() -> bool:
    """Whether a django-q2 worker beat within its staleness limit."""
    since = timezone.now() - timedelta(seconds=STALE_AFTER[WORKER])
    return Heartbeat.objects.filter(name=WORKER, beat_at__gte=since).exists()


# Reading the beats


def _beats() -> dict[str, Heartbeat]:
    names = [WORKER, SCHEDULER, SENDER, RUNNER_BEAT]
    return {b.name: b for b in Heartbeat.objects.filter(name__in=names)}


def _age(beat: Heartbeat, now) -> float:
    return (now - beat.beat_at).total_seconds()


def _started_recently(now, since=None) -> bool:
    since = since or PROCESS_STARTED
    return (now - since).total_seconds() <= STARTING_SECONDS


def _part(name: str, beat: Heartbeat | None, now, *, starting_since=None) -> dict:
    """One part's check from its newest beat."""
    if beat is None:
        if _started_recently(now, starting_since):
            return {"ok": False, "state": "starting", "error": "starting: not reported yet"}
        return {"ok": False, "state": "down", "error": "never seen"}
    age = _age(beat, now)
    check = {"last_seen": beat.beat_at.isoformat(), "age_seconds": round(age, 1)}
    if age <= STALE_AFTER[name]:
        return {"ok": True, "state": "ok", **check}
    if (
        starting_since is not None
        and starting_since > beat.beat_at
        and _started_recently(now, starting_since)
    ):
        return {"ok": False, "state": "starting", "error": "starting: restarted", **check}
    return {"ok": False, "state": "down", "error": f"silent for {int(age)} s", **check}


def sender_state(beats: dict[str, Heartbeat], now) -> dict:
    """What the sender is doing: the long-running one's own report when it
    is the newest sign of life, else the scheduled drains' beats."""
    runner, drain = beats.get(RUNNER_BEAT), beats.get(SENDER)
    newest = max(
        (b for b in (runner, drain) if b is not None), key=lambda b: b.beat_at, default=None
    )
    check = _part(SENDER, newest, now)
    if newest is None:
        return check
    details = newest.details or {}
    if newest is runner:
        check.update(
            mode="run_sender",
            activity=details.get("state", ""),
            wakes_on=details.get("wakes_on", ""),
            received=details.get("received", 0),
            sent=details.get("sent", 0),
        )
        if details.get("state") == "stopped":
            check.update(ok=False, state="down", error="stopped")
    else:
        check.update(mode="schedule", activity="working", received=details.get("received", 0))
    return check


def sender_status() -> dict:
    """The sender's check alone (the batch page shows it while a batch waits)."""
    now = timezone.now()
    return sender_state(
        {b.name: b for b in Heartbeat.objects.filter(name__in=[SENDER, RUNNER_BEAT])}, now
    )


# The retry service (the design's messageRetryStatus)


def retry_service_status(now=None) -> dict:
    """``running``, ``last_run``, ``next_run``, ``last_result`` of the retry
    cycle, and whether it is overdue: not running, and either no run started
    within its interval plus ``RETRY_CYCLE_GRACE_MINUTES``, or the schedule's
    next run is more than that grace in the past."""
    now = now or timezone.now()
    interval = timedelta(hours=settings.MESSAGE_RETRY_INTERVAL_HOURS)
    grace = timedelta(minutes=settings.RETRY_CYCLE_GRACE_MINUTES)
    runs = RetryRun.objects.filter(dry_run=False)
    running = lock_is_held(CYCLE_LOCK)
    current = runs.filter(finished_at__isnull=True).first() if running else None
    last = runs.filter(finished_at__isnull=False).first()
    upcoming = next_run(RETRY_CYCLE)
    # Late on either count: the schedule did not fire (a manual run does not
    # move it), or no cycle started although one was due.
    deadlines = [upcoming + grace] if upcoming is not None else []
    if last is not None:
        deadlines.append(last.started_at + interval + grace)
    due_by = None if running or not deadlines else min(deadlines)
    overdue = due_by is not None and now > due_by
    scheduled = upcoming is not None
    return {
        "running": running,
        "current_run_started": current.started_at if current else None,
        "last_run": last.started_at if last else None,
        "next_run": upcoming,
        "interval_hours": settings.MESSAGE_RETRY_INTERVAL_HOURS,
        "grace_minutes": settings.RETRY_CYCLE_GRACE_MINUTES,
        "scheduled": scheduled,
        "overdue": overdue,
        "overdue_since": due_by if overdue else None,
        "last_result": None if last is None else _result(last),
    }


def _result(run: RetryRun) -> dict:
    return {
        "run": run.pk,
        "trigger": run.trigger,
        "finished_at": run.finished_at,
        "duration_seconds": run.duration_seconds,
        "selected": run.selected,
        "requeued": run.requeued,
        "still_failed": run.still_failed,
        "permanently_failed": run.permanently_failed,
        "skipped": run.skipped,
        "left": run.left,
        "error": run.error,
        "success": not run.error,
    }


def _retry_check(now) -> dict:
    status = retry_service_status(now)
    check = {
        "ok": True,
        "state": "ok",
        "running": status["running"],
        "last_run": status["last_run"].isoformat() if status["last_run"] else None,
        "next_run": status["next_run"].isoformat() if status["next_run"] else None,
    }
    if not status["scheduled"] and not status["running"]:
        check.update(ok=False, state="down", error="not scheduled: run manage.py setup_retry_admin")
    elif status["overdue"]:
        late = int((now - status["overdue_since"]).total_seconds() // 60)
        check.update(
            ok=False,
            state="down",
            error=(
                f"overdue by {late} min past its interval "
                f"({status['interval_hours']:g} h) and grace ({status['grace_minutes']:g} min)"
            ),
        )
    return check


# The verdicts


def liveness() -> dict:
    """Web server up and database reachable: nothing about the workers."""
    database = _database_check()
    return {
        "alive": database["ok"],
        "checks": {"database": database},
        "timestamp": timezone.now().isoformat(),
    }


def _database_check() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # any driver error means "down"; say which
        return {"ok": False, "state": "down", "error": f"{exc.__class__.__name__}: {exc}"}
    return {"ok": True, "state": "ok", "vendor": connection.vendor}


def health_check() -> dict:
    """Every part's state; ``healthy`` only if all are ``ok``, ``status`` is
    ``ok``, ``starting`` (nothing down, something not reported yet) or ``down``."""
    checks: dict[str, dict] = {"database": _database_check()}
    queue = queue_status()
    checks["queue"] = {**queue, "state": "ok" if queue["ok"] else "down"}
    now = timezone.now()
    beats: dict[str, Heartbeat] = {}
    if checks["database"]["ok"]:
        try:
            beats = _beats()
            retry = _retry_check(now)
        except DatabaseError as exc:  # e.g. migrations not applied
            error = f"{exc.__class__.__name__}: {exc}"
            checks["database"] = {"ok": False, "state": "down", "error": error}
    worker = beats.get(WORKER)
    worker_started = None
    if worker is not None and (worker.details or {}).get("started_at"):
        worker_started = _parse(worker.details["started_at"])
    checks[WORKER] = _part(WORKER, worker, now)
    if worker is not None:
        details = worker.details or {}
        checks[WORKER].update(
            cluster_pid=details.get("cluster_pid"), started_at=details.get("started_at")
        )
    checks[SCHEDULER] = _part(
        SCHEDULER,
        beats.get(SCHEDULER),
        now,
        starting_since=worker_started if checks[WORKER]["ok"] else None,
    )
    checks[SENDER] = sender_state(beats, now)
    if checks["database"]["ok"]:
        checks["retry_cycle"] = retry
    else:
        checks["retry_cycle"] = {"ok": False, "state": "down", "error": "database down"}
    if not checks["database"]["ok"]:
        for name in (WORKER, SCHEDULER, SENDER):
            checks[name] = {"ok": False, "state": "down", "error": "database down"}
    states = {check["state"] for check in checks.values()}
    status = "ok" if states == {"ok"} else "down" if "down" in states else "starting"
    _FAILURES.report(checks)
    return {
        "healthy": status == "ok",
        "status": status,
        "checks": checks,
        "timestamp": now.isoformat(),
    }


class _FailureLog:
    """The design's "service health check failures" at ERROR: once when a
    check goes down, once (INFO) when it is back, not at every probe."""

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._lock = threading.Lock()

    def report(self, checks: dict[str, dict]) -> None:
        down = {name for name, check in checks.items() if check.get("state") == "down"}
        with self._lock:
            failed, back = down - self._down, self._down - down
            self._down = down
        for name in sorted(failed):
            error = str(checks[name].get("error", ""))
            log_event(
                logger,
                logging.ERROR,
                "health.check_failed",
                "Health check %s failed: %s",
                name,
                error,
                check=name,
                error=error,
            )
        for name in sorted(back):
            log_event(
                logger,
                logging.INFO,
                "health.check_ok",
                "Health check %s is ok again",
                name,
                check=name,
            )


_FAILURES = _FailureLog()
logger = logging.getLogger(__name__)


def _parse(value: str):
    return parse_datetime(value)
