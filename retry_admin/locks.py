"""Named leases in the database, so runs of one job never overlap across
processes or machines (a 5-second poller without a lock was seen to run twice
at once).

A lock dies with its holder: ``held_lock`` takes a short lease
(``LOCK_LEASE_SECONDS``, 30 s by default) and renews it from a thread every
third of that while the holder lives. A holder killed with SIGKILL stops
renewing, and the next taker gets the lock one lease later, not an hour
later."""

import functools
import logging
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, connections, transaction
from django.utils import timezone

from retry_admin.models import ProcessLock
from retry_admin.outage import Outage

logger = logging.getLogger(__name__)


def lock_acquire(name: str, *, ttl_seconds: float) -> str | None:
    """Take the lock, or take it over if its holder let it expire. Returns the
    token to release it with, or None when someone else holds it."""
    now = timezone.now()
    token = secrets.token_hex(16)
    expires_at = now + timedelta(seconds=ttl_seconds)
    taken = ProcessLock.objects.filter(name=name, expires_at__lt=now).update(
        token=token, expires_at=expires_at
    )
    if taken:
        return token
    try:
        with transaction.atomic():
            ProcessLock.objects.create(name=name, token=token, expires_at=expires_at)
    except IntegrityError:
        return None
    return token


def lock_renew(name: str, token: str, *, ttl_seconds: float) -> bool:
    expires_at = timezone.now() + timedelta(seconds=ttl_seconds)
    return bool(ProcessLock.objects.filter(name=name, token=token).update(expires_at=expires_at))


def lock_release(name: str, token: str) -> None:
    ProcessLock.objects.filter(name=name, token=token).delete()


def lock_is_held(name: str) -> bool:
    return ProcessLock.objects.filter(name=name, expires_at__gte=timezone.now()).exists()


@contextmanager
def held_lock(name: str, *, ttl_seconds: float | None = None) -> Iterator[str | None]:
    """``with held_lock("x") as token:`` — token is None when busy. The lease
    (``ttl_seconds``, default ``LOCK_LEASE_SECONDS``) is renewed while the
    block runs."""
    ttl = ttl_seconds or settings.LOCK_LEASE_SECONDS
    token = lock_acquire(name, ttl_seconds=ttl)
    if token is None:
        yield None
        return
    stop = threading.Event()
    renewer = threading.Thread(
        target=_keep, args=(name, token, ttl, stop), name=f"lock-{name}", daemon=True
    )
    renewer.start()
    try:
        yield token
    finally:
        stop.set()
        renewer.join()
        lock_release(name, token)


def exclusive(name: str, *, what: str) -> Callable[[Callable[..., dict]], Callable[..., dict]]:
    """Run the decorated job only while holding lock ``name``; when another
    process holds it, answer ``{"skipped": "another <what> run is active"}``."""

    def wrap(job: Callable[..., dict]) -> Callable[..., dict]:
        @functools.wraps(job)
        def run(*args: object, **kwargs: object) -> dict:
            with held_lock(name) as token:
                if token is None:
                    return {"skipped": f"another {what} run is active"}
                return job(*args, **kwargs)

        return run

    return wrap


def _keep(name: str, token: str, ttl: float, stop: threading.Event) -> None:
    outage = Outage(f"Renewing lock {name!r}")
    try:
        while not stop.wait(ttl / 3):
            try:
                if not lock_renew(name, token, ttl_seconds=ttl):
                    logger.error("Lock %r was taken over: its lease ran out", name)
                    return
            except Exception as exc:  # the database is down: renew again next round
                outage.failed(exc)  # logged once per outage, not once per round
            else:
                outage.recovered()
    finally:
        connections.close_all()  # this thread's connections only
