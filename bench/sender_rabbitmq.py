"""1c. ``sender_log`` over the RabbitMQ transport: the sender end to end with
the ``log`` channel, against the same naive loop in the same run (receiving
and acking one message at a time).

``QUEUE_BACKEND=rabbitmq`` on ``RABBITMQ_URL`` (or the local broker) with a
topology of the run's own, deleted at the end.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.test.utils import override_settings

from bench.harness import Context, Result
from bench.sender_log import measure
from retry_admin.queues import QueueError, get_backend, reset_backends

NAME = "sender_rabbitmq"
AIM_RATE = 3_000  # msg/s on this 2-core machine (the broker shares it)


@contextmanager
def on_rabbitmq() -> Iterator[None]:
    """Point the queue at RabbitMQ under throwaway names; delete them after."""
    suffix = uuid.uuid4().hex[:8]
    queue = f"retry-admin-bench-{suffix}"
    with override_settings(
        QUEUE_BACKEND="rabbitmq", QUEUE_NAME=queue, RABBITMQ_EXCHANGE=f"{queue}-x"
    ):
        reset_backends()
        backend = get_backend()
        try:
            backend.ensure()
        except QueueError as exc:
            raise RuntimeError(f"{exc} (bash scripts/services.sh rabbitmq starts one)") from None
        try:
            yield
        finally:
            backend.drop_topology()
            reset_backends()


def run(ctx: Context) -> list[Result]:
    with on_rabbitmq():
        return [measure(ctx, NAME, aim_rate=AIM_RATE, aim_ratio=None)]
