"""Keeps a chunk's messages out of other workers' hands while it is delivered.

A sender holds two things per message while it delivers: the queue message's
visibility and the log's lease. Both are granted for
``QUEUE_VISIBILITY_TIMEOUT`` seconds, but a slow provider can take longer than
that for a chunk. The keeper renews both every third of the timeout from a
thread of its own until the outcome is recorded, so work in flight never
expires under a live sender, however slow the channel. If the sender dies, the
renewals stop with it and the messages come back after one timeout.

The thread never holds its lock while it talks to the queue or the database,
so the sender's own writes never wait on a renewal.
"""

import logging
import threading
import uuid
from collections.abc import Iterable
from datetime import timedelta

from django.db import connections
from django.utils import timezone

from retry_admin.models import MessageLog
from retry_admin.outage import Outage
from retry_admin.queues import QueueBackend

logger = logging.getLogger(__name__)


class LeaseKeeper:
    """``with LeaseKeeper(backend, visibility=60, token=t, held={handle: log_id}):``"""

    def __init__(
        self,
        backend: QueueBackend,
        *,
        visibility: int,
        token: uuid.UUID,
        held: dict[str, uuid.UUID],
    ) -> None:
        self.backend = backend
        self.visibility = visibility
        self.token = token
        self.interval = max(0.2, visibility / 3)
        self._lock = threading.Lock()
        self._held = dict(held)  # original handle -> log id
        self._current = {handle: handle for handle in held}  # original -> latest handle
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._outage = Outage("Lease renewal")

    def __enter__(self) -> "LeaseKeeper":
        if self._held:
            self._thread = threading.Thread(
                target=self._run, name="retry-admin-lease-keeper", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def current(self, handles: Iterable[str]) -> list[str]:
        """The handles to ack or release these messages with now."""
        with self._lock:
            return [self._current.get(handle, handle) for handle in handles]

    def drop(self, handles: Iterable[str]) -> None:
        """Stop renewing these: their outcome is recorded."""
        with self._lock:
            for handle in handles:
                self._held.pop(handle, None)

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.renew()
        finally:
            connections.close_all()  # this thread's connections only

    def renew(self) -> None:
        with self._lock:
            held = dict(self._held)
            current = {self._current[handle]: handle for handle in held}
        if not held:
            return
        lease_until = timezone.now() + timedelta(seconds=self.visibility)
        try:
            renamed = self.backend.extend(list(current), visibility_timeout=self.visibility)
            MessageLog.objects.filter(id__in=list(held.values()), lease_token=self.token).update(
                lease_expires_at=lease_until
            )
        except Exception as exc:  # the queue or database is down: try again next round
            self._outage.failed(exc)  # logged once per outage, not once per round
            return
        self._outage.recovered()
        if len(renamed) < len(current):
            logger.warning("%d messages were no longer ours to extend", len(current) - len(renamed))
        with self._lock:
            for old, new in renamed.items():
                self._current[current[old]] = new
