import random
from datetime import datetime, timedelta

from django.conf import settings


def next_retry_at(*, retry_count: int, now: datetime) -> datetime | None:
    """When a message that just failed becomes eligible for the retry cycle.

    ``fixed``: no per-message time; the cycle's ``MESSAGE_RETRY_AFTER_HOURS``
    rule alone decides (the seed behaviour). ``exponential``: the wait doubles
    with every retry already made, ±20 % jitter so a failed batch does not
    come back as one wave.
    """
    if settings.RETRY_BACKOFF != "exponential":
        return None
    base = settings.MESSAGE_RETRY_AFTER_HOURS * 3600 * (2**retry_count)
    return now + timedelta(seconds=base * random.uniform(0.8, 1.2))
