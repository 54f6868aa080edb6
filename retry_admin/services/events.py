"""Message timeline events, written in bulk by the services that cause them."""

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.utils import timezone

from retry_admin.models import MessageEvent, insert_rows


def message_events_record(
    *,
    message_ids: Iterable[uuid.UUID],
    kind: str,
    actor: str = "",
    detail: str = "",
    at: datetime | None = None,
) -> int:
    """One event per message, all in one prepared INSERT (``insert_rows``)."""
    at = at or timezone.now()
    return insert_rows(
        MessageEvent,
        ["message_id"],
        [(pk,) for pk in message_ids],
        kind=kind,
        actor_name=actor,
        detail=detail[:255],
        created_at=at,
    )
