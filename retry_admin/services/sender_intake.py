"""The first half of a sender chunk: sorting out what the queue handed over.

Each received body is decoded, and the logs it points at are leased and read
in one statement (``UPDATE … RETURNING``, tuples, never model instances).
Only the envelopes that lease did not take need a second look, to tell a
duplicate (acked) from an envelope another worker is sending right now
(deferred), one received too often or pointing at nothing (dead-lettered),
or the copy of a log already dead-lettered (back to the DLQ).
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from retry_admin.envelope import InvalidEnvelope, message_id_of
from retry_admin.models import MessageLog, Status
from retry_admin.models.rawsql import datetime_param, in_list, uuid_param
from retry_admin.queues.base import ReceivedMessage
from retry_admin.services.delivery import Delivery

logger = logging.getLogger(__name__)

_LOG = MessageLog._meta.db_table
TOO_MANY_RECEIVES = "Received more than QUEUE_MAX_RECEIVES={limit} times without an outcome"
_LEASE_COLUMNS = "id, batch_id, recipient, context, retry_count, attempt_count, enqueue_source"


@dataclass
class Intake:
    """A received chunk, sorted out: what to deliver (leased with
    ``lease_token``), ack, defer and dead-letter."""

    lease_token: uuid.UUID
    deliveries: list[Delivery] = field(default_factory=list)
    to_ack: list[str] = field(default_factory=list)  # duplicates and already handled
    deferred: list[str] = field(default_factory=list)  # leased by another worker
    poison: dict[str, str] = field(default_factory=dict)  # handle -> why it goes to the DLQ
    too_many: dict[uuid.UUID, int] = field(default_factory=dict)  # log -> its receives
    skipped: int = 0


def chunk_sort(received: list[ReceivedMessage], *, lease_until: datetime) -> Intake:
    """Decode ``received``, lease the logs it points at until ``lease_until``
    and sort the rest out (``Intake``)."""
    intake = Intake(lease_token=uuid.uuid4())
    limit = settings.QUEUE_MAX_RECEIVES
    native = connection.features.has_native_uuid_field
    # Keyed by the id as the database holds it (hex text on SQLite): strings
    # hash in C, UUIDs in Python.
    decoded: list[tuple[ReceivedMessage, uuid.UUID, object]] = []
    for item in received:
        try:
            pk = message_id_of(item.body)
        except InvalidEnvelope as exc:
            logger.error("Dead-lettering a queue body that is not our envelope: %s", exc)
            intake.poison[item.handle] = f"Not a Retry Admin envelope: {exc}"
            continue
        decoded.append((item, pk, pk if native else pk.hex))

    leased = _lease(
        [db_id for item, _, db_id in decoded if item.receive_count <= limit],
        intake.lease_token,
        lease_until,
    )
    second_look: list[tuple[ReceivedMessage, uuid.UUID]] = []
    deliveries = intake.deliveries
    for item, pk, db_id in decoded:
        row = leased.pop(db_id, None) if item.receive_count <= limit else None
        if row is not None:
            deliveries.append(Delivery(pk, db_id, item.handle, item.receive_count, *row))
        else:
            # Not leased now: not leasable, or a second copy in this chunk of
            # one it just leased (popped above).
            second_look.append((item, pk))
    if second_look:
        _look_again(intake, second_look, {d.pk for d in deliveries}, limit)
    return intake


def _lease(db_ids: list, token: uuid.UUID, until: datetime) -> dict[object, tuple]:
    """Lease the pending logs among ``db_ids`` (ids as the database holds
    them) nobody else is sending, reading what delivering needs of them in
    the same statement (``RETURNING``). Returns, by id: (batch id, recipient,
    context, retry count, attempt count, enqueue source)."""
    if not db_ids:
        return {}
    where, params = in_list("id", db_ids)
    sql = (
        f"UPDATE {_LOG} SET lease_token = %s, lease_expires_at = %s"
        f" WHERE {where} AND status = %s"
        " AND (lease_expires_at IS NULL OR lease_expires_at < %s)"
        f" RETURNING {_LEASE_COLUMNS}"
    )
    args = [uuid_param(token), datetime_param(until), *params, Status.PENDING.value]
    args.append(datetime_param(timezone.now()))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, args)
        rows = cursor.fetchall()
    leased = {}
    loads = json.loads
    for db_id, batch_id, recipient, context, *rest in rows:
        if context.__class__ is str:  # JSON text on SQLite, and jsonb as Django loads it
            context = loads(context)
        leased[db_id] = (batch_id, recipient, context, *rest)
    return leased


def _look_again(
    intake: Intake,
    second_look: list[tuple[ReceivedMessage, uuid.UUID]],
    taken: set[uuid.UUID],
    limit: int,
) -> None:
    """Sort out the envelopes the lease did not take (already handled,
    dead-lettered, leased by another worker, unknown, or received too often)."""
    states = {
        pk: (status, last_error)
        for pk, status, last_error in MessageLog.objects.filter(
            id__in={pk for _, pk in second_look}
        ).values_list("id", "status", "last_error")
    }
    for item, pk in second_look:
        handle = item.handle
        status, last_error = states.get(pk, (None, ""))
        if status is None:
            logger.error("Dead-lettering envelope for unknown message id %s", pk)
            intake.poison[handle] = f"No message log with id {pk}"
        elif item.receive_count > limit and status == Status.PENDING and pk not in taken:
            intake.poison[handle] = TOO_MANY_RECEIVES.format(limit=limit)
            intake.too_many[pk] = item.receive_count
        elif status == Status.DEAD_LETTERED:
            # Marked dead before its copy reached the DLQ (SQS/Azure) and the
            # copy failed: send it there again rather than ack it away.
            intake.poison[handle] = last_error or "Dead-lettered"
        elif status != Status.PENDING or pk in taken:
            intake.to_ack.append(handle)  # already handled: de-duplicated
            intake.skipped += 1
        else:
            # Another worker holds the lease (it is sending a copy right
            # now): look again once that lease has expired.
            intake.deferred.append(handle)
