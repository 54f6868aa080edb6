"""1c. ``sender_log`` over the RabbitMQ transport: the sender end to end with
the ``log`` channel, against the same naive loop in the same run (receiving
and acking one message at a time).

``QUEUE_BACKEND=rabbitmq`` on ``RABBITMQ_URL`` (or the local broker) with a
topology of the run's own, deleted at the end.
"""

import uuid

from bench.harness import Context, Result
from bench.sender_log import measure, on_transport

NAME = "sender_rabbitmq"
AIM_RATE = 3_000  # msg/s on this 2-core machine (the broker shares it)


def run(ctx: Context) -> list[Result]:
    queue = f"retry-admin-bench-{uuid.uuid4().hex[:8]}"
    with on_transport(
        "rabbitmq",
        lambda backend: backend.drop_topology(),
        QUEUE_BACKEND="rabbitmq",
        QUEUE_NAME=queue,
        RABBITMQ_EXCHANGE=f"{queue}-x",
    ):
        return [measure(ctx, NAME, aim_rate=AIM_RATE, aim_ratio=None)]
