"""Waiting out an outage instead of exiting.

Long-running processes (the sender, the lease keeper) meet a database or
queue that is down with exponential backoff, and log once when the outage
starts and once when it ends, never a line per retry.
"""

import logging
import time
from collections.abc import Callable
from contextlib import suppress
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connection

logger = logging.getLogger(__name__)

T = TypeVar("T")

# What a database that is down, restarting or unreachable raises; anything else
# is a bug and propagates.
DATABASE_DOWN = (OperationalError, InterfaceError)


class Outage:
    """One dependency's state for one loop: up, or down since when."""

    def __init__(self, what: str, *, first_delay: float = 0.5, max_delay: float = 30.0) -> None:
        self.what = what
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.down_since: float | None = None
        self._delay = first_delay

    def failed(self, exc: BaseException) -> float:
        """Note a failure; returns how long to wait before trying again."""
        if self.down_since is None:
            self.down_since = time.monotonic()
            logger.error("%s is unavailable, waiting it out: %s", self.what, exc, exc_info=exc)
            self._delay = self.first_delay
        else:
            self._delay = min(self._delay * 2, self.max_delay)
        return self._delay

    def recovered(self) -> None:
        if self.down_since is not None:
            logger.warning("%s is back after %.1f s", self.what, time.monotonic() - self.down_since)
            self.down_since = None


def reset_database_connection() -> None:
    """Drop a broken connection so the next query opens a new one."""
    with suppress(*DATABASE_DOWN):  # closing a dead connection can fail too
        connection.close()


def outlast(
    action: Callable[[], T], *, what: str = "The database", should_stop: Callable[[], bool]
) -> T:
    """Run ``action`` until it gets through a database outage (it must be safe
    to repeat: a transaction that failed was rolled back). Raises the last
    error only if ``should_stop`` says the process is stopping."""
    outage = Outage(what)
    while True:
        try:
            result = action()
        except DATABASE_DOWN as exc:
            if connection.in_atomic_block:
                raise  # the caller's transaction is broken; it must retry, not us
            delay = outage.failed(exc)
            reset_database_connection()
            if should_stop():
                raise
            time.sleep(delay)
            continue
        outage.recovered()
        return result
