"""Message timeline events, written in bulk by the services that cause them."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from retry_admin.models import MessageEvent

CHUNK = 1000


def actor_name(user: AbstractBaseUser | None) -> str:
    return user.get_username() if user is not None and user.is_authenticated else "system"


def message_events_record(
    *,
    message_ids: Iterable[uuid.UUID],
    kind: str,
    actor: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> int:
    """One event per message, one INSERT per ``CHUNK`` messages."""
    at = at or timezone.now()
    rows = [
        MessageEvent(message_id=pk, kind=kind, actor_name=actor, detail=detail[:255], created_at=at)
        for pk in message_ids
    ]
    MessageEvent.objects.bulk_create(rows, batch_size=CHUNK)
    return len(rows)
