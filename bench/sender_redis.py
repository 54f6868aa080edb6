"""1b. ``sender_log`` over the Redis transport: the sender end to end with the
``log`` channel, against the same naive loop in the same run (receiving and
acking one message per Redis call).

``QUEUE_BACKEND=redis`` on ``REDIS_URL`` (or the local server) under a key
prefix of the run's own, whose keys are deleted at the end.
"""

import uuid

from bench.harness import Context, Result
from bench.sender_log import measure, on_transport

NAME = "sender_redis"


def _drop_keys(backend, prefix: str) -> None:
    client = backend._client()
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


def run(ctx: Context) -> list[Result]:
    prefix = f"retry-admin-bench-{uuid.uuid4().hex[:8]}"
    drop = lambda backend: _drop_keys(backend, prefix)  # noqa: E731
    with on_transport("redis", drop, QUEUE_BACKEND="redis", REDIS_KEY_PREFIX=prefix):
        return [measure(ctx, NAME, aim_ratio=None)]  # the issue aims at the rate alone
