"""Named leases in the database, so runs of one job never overlap across
processes or machines (the RECIPES note: a 5-second poller without a lock ran
twice at once)."""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from retry_admin.models import ProcessLock


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


@contextmanager
def held_lock(name: str, *, ttl_seconds: float) -> Iterator[str | None]:
    """``with held_lock("x", ttl_seconds=60) as token:`` — token is None when busy."""
    token = lock_acquire(name, ttl_seconds=ttl_seconds)
    try:
        yield token
    finally:
        if token:
            lock_release(name, token)
