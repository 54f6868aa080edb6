"""Structured log events: one line per event, with its fields.

``log_event(logger, logging.INFO, "retry_cycle.finished", "Retry cycle 7
finished", run=7, requeued=100)`` writes the sentence and every field; the
handler's formatter (``LOG_FORMAT``, config/settings.py) renders them as
``key=value`` pairs (logfmt) or one JSON object. Each event has a stable
``event`` name, listed in docs/design.md ("Logs"), so alerts and searches
can key on it instead of on the wording.
"""

import logging
import os
import sys
import time

# Names a LogRecord already uses (``extra`` may not overwrite them).
_RESERVED = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def log_event(
    logger: logging.Logger,
    level: int,
    event: str,
    message: str,
    *args: object,
    exc_info: bool | BaseException | None = None,
    **fields: object,
) -> None:
    """Log ``message % args`` with ``event`` and ``fields`` as structured data."""
    clashes = _RESERVED & fields.keys()
    if clashes:
        raise ValueError(f"log field names taken by logging itself: {sorted(clashes)}")
    logger.log(level, message, *args, exc_info=exc_info, extra={"event": event, **fields})


# Service start and stop (the design's "service start/stop events")

_SERVICES = {"qcluster": "worker", "run_sender": "sender"}
_lifecycle_logger = logging.getLogger("retry_admin.service")


def service_started(service: str) -> None:
    """Log that ``service`` started in this process, and its stop at exit."""
    import atexit

    started = time.monotonic()
    log_event(
        _lifecycle_logger,
        logging.INFO,
        "service.started",
        "%s started (pid %d)",
        service,
        os.getpid(),
        service=service,
        pid=os.getpid(),
    )

    def stopped() -> None:
        log_event(
            _lifecycle_logger,
            logging.INFO,
            "service.stopped",
            "%s stopped (pid %d) after %.0f s",
            service,
            os.getpid(),
            time.monotonic() - started,
            service=service,
            pid=os.getpid(),
            uptime_seconds=round(time.monotonic() - started, 1),
        )

    atexit.register(stopped)


def service_of(argv: list[str]) -> str | None:
    """The long-running service ``manage.py <command>`` is, if any, in its
    main process (django-q2's worker processes re-import Django too)."""
    import multiprocessing

    if len(argv) < 2 or multiprocessing.parent_process() is not None:
        return None
    return _SERVICES.get(argv[1])


def log_service_start() -> None:
    """From AppConfig.ready: a service process logs its start and stop."""
    service = service_of(sys.argv)
    if service is not None:
        service_started(service)
