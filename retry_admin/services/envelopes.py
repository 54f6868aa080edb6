"""The queue bodies of messages about to be enqueued, in the form
``QUEUE_ENVELOPE`` asks for (docs/envelope.md).

``pointer`` (the default): ids only, the database row is the truth.
``full``: the pointer plus the rendered message, the recipient's columns,
the channel, the batch and the template, so a consumer outside this product
can deliver from the queue alone. A full body the transport can never take
(over its size limit) fails its message permanently with the reason, once,
instead of leaving it in the outbox to be refused again every minute.
"""

import logging
import uuid
from collections.abc import Mapping, Sequence

from django.conf import settings
from django.utils import timezone

from retry_admin import policy
from retry_admin.envelope import Envelope, Payload
from retry_admin.models import Batch, MessageLog
from retry_admin.queues import QueueBackend
from retry_admin.services.templates import template_render
from retry_admin.services.transitions import messages_not_enqueueable

logger = logging.getLogger(__name__)

# (message id, batch id, recipient, template id, attempts so far, priority):
# the columns dispatch reads from the outbox.
Row = tuple[uuid.UUID, int | None, str, int | None, int, int]

TOO_LARGE = (
    "Envelope refused before sending: {problem} (QUEUE_ENVELOPE=full carries the rendered "
    "message and the recipient's columns; shorten them or use QUEUE_ENVELOPE=pointer, then "
    "retry the message)"
)


def envelope_bodies(
    backend: QueueBackend,
    rows: Sequence[Row],
    *,
    contexts: Mapping[uuid.UUID, object] | None = None,
) -> tuple[list[Row], list[str], dict[uuid.UUID, str]]:
    """The bodies to send for ``rows``: (rows that can be sent, their bodies
    in the same order, id -> why the others were failed). ``contexts`` spares
    reading the recipients' columns back when the caller has them."""
    if settings.QUEUE_ENVELOPE != "full":
        bodies = [
            Envelope(msg_id, batch_id, recipient, template_id, attempts + 1).encode()
            for msg_id, batch_id, recipient, template_id, attempts, _ in rows
        ]
        return list(rows), bodies, {}
    if contexts is None:
        contexts = dict(
            MessageLog.objects.filter(id__in=[row[0] for row in rows]).values_list("id", "context")
        )
    batches = Batch.objects.select_related("template").in_bulk({row[1] for row in rows} - {None})
    sendable, bodies, refused = [], [], {}
    for row in rows:
        msg_id, batch_id, recipient, template_id, attempts, _ = row
        payload = _payload(batches.get(batch_id), recipient, contexts.get(msg_id))
        body = Envelope(msg_id, batch_id, recipient, template_id, attempts + 1, payload).encode()
        problem = backend.body_problem(body)
        if problem:
            refused[msg_id] = TOO_LARGE.format(problem=problem)
            logger.error("Message %s cannot be enqueued: %s", msg_id, problem)
            continue
        sendable.append(row)
        bodies.append(body)
    if refused:
        by_reason: dict[str, list[uuid.UUID]] = {}
        for msg_id, reason in refused.items():
            by_reason.setdefault(reason, []).append(msg_id)
        for reason, ids in by_reason.items():
            messages_not_enqueueable(message_ids=ids, error=reason, now=timezone.now())
    return sendable, bodies, refused


def _payload(batch: Batch | None, recipient: str, context: object) -> Payload:
    """The full form's payload; ``body`` is None (and ``problem`` says why)
    when the message cannot be rendered: the sender fails it permanently, and
    an outside consumer must not deliver it."""
    columns = context if isinstance(context, dict) else {}
    if batch is None or batch.template is None:
        return Payload(
            body=None,
            problem=policy.BATCH_OR_TEMPLATE_GONE,
            channel=batch.channel if batch else "",
            context=columns,
            batch_name=batch.name if batch else "",
            priority=batch.priority if batch else 0,
            template_name="",
        )
    rendered = template_render(body=batch.template.body, context=context, recipient=recipient)
    return Payload(
        body=None if rendered.problem else rendered.body,
        problem=rendered.problem,
        channel=batch.channel,
        context=columns,
        batch_name=batch.name,
        priority=batch.priority,
        template_name=batch.template.name,
    )
