"""Waking an idle sender when the ``db`` queue gets work.

On PostgreSQL, ``DatabaseQueue.send`` issues ``NOTIFY`` on ``CHANNEL`` with the
queue name as payload; it is delivered when the enqueueing transaction
commits (never before the rows are visible). ``QueueWaiter`` listens on its
own connection, so the sender's connection (closed after an outage, inside
transactions while it works) never loses the subscription.

Elsewhere (SQLite), or while the listening connection is down, the waiter
polls with a cheap indexed read (``SELECT … LIMIT 1``, no write lock) every
``poll_seconds``. Messages that become visible later (a delayed release, a
retry with a delay) send no notification: the caller's ``timeout`` bounds how
late they are seen.
"""

import logging
import time
from contextlib import suppress

from django.db import connection
from django.utils import timezone

from retry_admin.models import QueueMessage

logger = logging.getLogger(__name__)

CHANNEL = "retry_admin_queue"


def notify_enqueued(queue_name: str) -> None:
    """Tell listening senders that ``queue_name`` has new messages (PostgreSQL
    only; sent at commit of the current transaction, or at once in autocommit)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_notify(%s, %s)", [CHANNEL, queue_name])


def has_visible(queue_name: str) -> bool:
    """Whether a message of ``queue_name`` could be received now."""
    return QueueMessage.objects.filter(
        queue=queue_name, dead=False, visible_at__lte=timezone.now()
    ).exists()


class QueueWaiter:
    """``wait(timeout)`` returns as soon as the queue may have work (True) or
    when ``timeout`` passes with nothing seen (False)."""

    def __init__(self, queue_name: str, *, poll_seconds: float) -> None:
        self.queue_name = queue_name
        self.poll_seconds = poll_seconds
        self.listening = False
        self._conn = None
        self._retry_listen_at = 0.0

    def wait(self, timeout: float, *, should_stop=lambda: False) -> bool:
        end = time.monotonic() + timeout
        if connection.vendor == "postgresql":
            self._listen()
        if has_visible(self.queue_name):
            return True
        while not should_stop() and (left := end - time.monotonic()) > 0:
            step = min(left, self.poll_seconds if not self.listening else 0.5)
            if self.listening:
                if self._notified(step):
                    return True
            else:
                time.sleep(step)
                if has_visible(self.queue_name):
                    return True
        return False

    def close(self) -> None:
        if self._conn is not None:
            with suppress(Exception):  # already broken: nothing to release
                self._conn.close()
        self._conn, self.listening = None, False

    def _listen(self) -> None:
        if self.listening or time.monotonic() < self._retry_listen_at:
            return
        try:
            raw = connection.get_new_connection(connection.get_connection_params())
            raw.autocommit = True
            raw.execute(f"LISTEN {CHANNEL}")
        except Exception as exc:  # database down: poll until it is back
            logger.warning("Sender cannot LISTEN for new messages (%s); polling instead", exc)
            self._retry_listen_at = time.monotonic() + 5
            return
        self._conn, self.listening = raw, True

    def _notified(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for a notification about our queue; True if
        one came (every pending one is consumed)."""
        try:
            ours = False
            for note in self._conn.notifies(timeout=seconds):
                ours = ours or note.payload == self.queue_name
                if ours:
                    break
            return ours
        except Exception as exc:  # the listening connection died: poll, reconnect later
            logger.warning("Sender lost its LISTEN connection (%s); polling instead", exc)
            self.close()
            self._retry_listen_at = time.monotonic() + 5
            return has_visible(self.queue_name)
