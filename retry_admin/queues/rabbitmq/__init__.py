"""RabbitMQ: the only package that imports pika, and only when first used.

Topology (declared by ``ensure``, run by ``setup_retry_admin``; all durable,
names configurable so the backend can sit on an existing topology of this
shape): a main topic exchange (``RABBITMQ_EXCHANGE``); the work queue
``QUEUE_NAME`` bound to it by ``RABBITMQ_BINDING_KEY`` (a quorum queue by
default, so redeliveries are counted), whose dead-letter exchange is the retry
exchange; the retry queue bound to the retry exchange with ``#``; a headers
exchange ``<exchange>.wait`` with one wait queue per delay
(``<queue>.wait.<ms>ms``, ``x-message-ttl``, dead-lettering back to the main
exchange under the message's own routing key); the parking queue (the DLQ).

Retries, as the RabbitMQ seed wants them: a message is never requeued hot. A
release (a sender giving a message back) and a reject by any consumer both
land on the retry queue; one retry processor (``process_retries``, run at the
start of every receive) is the single home of the decision: it counts the
retry in ``x-retries``, finds the original routing key (our header, or
``x-death``), and republishes the unchanged body after its delay through a
wait queue, or parks it with "reached max retries of N" past
``QUEUE_MAX_RECEIVES``. A release's delay is the caller's; a reject's is
``RABBITMQ_RETRY_DELAY_SECONDS``, doubled per retry with
``RETRY_BACKOFF=exponential``. Debian's RabbitMQ has no delayed-message
plugin, and wait queues work with or without it, so they are what is used.

Receiving is a consumer with ``RABBITMQ_PREFETCH`` unacked messages at most.
RabbitMQ has no visibility timeout: an unacked message stays with its
consumer until the connection closes, so a crashed worker's messages come
back at once (counted by the quorum queue's ``x-delivery-count``), and a live
worker that lets ``QUEUE_VISIBILITY_TIMEOUT`` pass without acking or
extending gives them back itself. Every publish waits for its publisher
confirm. A receipt handle carries the connection it came on, the delivery
tag, the message id, the body, the routing key and our headers, so a message
can be parked or released without receiving it again.
"""

from retry_admin.queues.rabbitmq.queue import RabbitMQQueue

__all__ = ["RabbitMQQueue"]
