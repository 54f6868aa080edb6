"""1b. ``sender_log`` over the Redis transport: the sender end to end with the
``log`` channel, against the same naive loop in the same run (receiving and
acking one message per Redis call).

``QUEUE_BACKEND=redis`` on ``REDIS_URL`` (or the local server) under a key
prefix of the run's own, whose keys are deleted at the end.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.test.utils import override_settings

from bench.harness import Context, Result
from bench.sender_log import measure
from retry_admin.queues import QueueError, get_backend, reset_backends

NAME = "sender_redis"


@contextmanager
def on_redis() -> Iterator[None]:
    """Point the queue at Redis under a throwaway prefix; delete its keys after."""
    prefix = f"retry-admin-bench-{uuid.uuid4().hex[:8]}"
    with override_settings(QUEUE_BACKEND="redis", REDIS_KEY_PREFIX=prefix):
        reset_backends()
        backend = get_backend()
        try:
            backend.ensure()
        except QueueError as exc:
            raise RuntimeError(f"{exc} (bash scripts/services.sh redis starts one)") from None
        try:
            yield
        finally:
            client = backend._client()
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
            reset_backends()


def run(ctx: Context) -> list[Result]:
    with on_redis():
        return [measure(ctx, NAME, aim_ratio=None)]  # the issue aims at the rate alone
