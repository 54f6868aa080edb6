"""1. The sender end to end with the ``log`` channel, against a naive loop
and against the database's ceiling.

Measured: ``services.sender.sender_drain(until_empty=True)`` over a batch
created and dispatched by ``batch_create``. Baselines, same run: the obvious
one-message-at-a-time ORM loop doing the same work (receive 1, load the log,
render, send, ``.save()``, one ``DeliveryAttempt``, ack), and the ceiling: raw
SQL doing only claim + mark sent + ack, a chunk at a time (no lease, no
rendering, no attempt row, no hourly count), which no sender can beat.
On PostgreSQL the row also reads the queue table's dead tuples after the drain
(``pg_stat_user_tables.n_dead_tup``).
"""

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone

from bench.harness import (
    Context,
    Result,
    Stopwatch,
    create_dispatched_batch,
    empty_tables,
    expect,
    per_second,
    profiled,
)
from retry_admin.channels import OutgoingMessage, get_channel
from retry_admin.envelope import decode
from retry_admin.models import DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.models.rawsql import datetime_param, in_list, uuid_param
from retry_admin.queues import QueueBackend, QueueError, get_backend, reset_backends
from retry_admin.services.sender import sender_drain

NAME = "sender_log"
AIM_RATE = 20_000  # msg/s
AIM_RATIO = 20  # x the naive loop
AIM_OF_CEILING = 1 / 8


def naive_drain(count: int) -> int:
    """The obvious way, a query (or three) per message."""
    backend = get_backend()
    channel = get_channel("log")
    done = 0
    while True:
        received = backend.receive(1, visibility_timeout=60)
        if not received:
            return done
        item = received[0]
        envelope = decode(item.body)
        log = MessageLog.objects.get(pk=envelope.message_id)
        template = log.batch.template
        message = OutgoingMessage(
            message_id=log.pk,
            recipient=log.recipient,
            body=template.render(log.context, log.recipient),
            attempt=log.attempt_count + 1,
            batch_id=log.batch_id,
            context=log.context,
        )
        started = time.perf_counter()
        channel.send(message)
        duration_ms = (time.perf_counter() - started) * 1000
        now = timezone.now()
        log.status = Status.SENT
        log.sent_at = now
        log.updated_at = now
        log.attempt_count += 1
        log.receive_count = item.receive_count
        log.save()
        DeliveryAttempt.objects.create(
            message=log,
            number=log.attempt_count,
            source=log.enqueue_source,
            outcome=DeliveryAttempt.Outcome.SENT,
            duration_ms=duration_ms,
        )
        backend.ack([item.handle])
        done += 1


def raw_drain(chunk: int) -> int:
    """The ceiling: claim a chunk (the db queue's own statement), mark its logs
    sent and delete its queue rows, in raw SQL; returns how many."""
    queue, log = QueueMessage._meta.db_table, MessageLog._meta.db_table
    lock = " FOR UPDATE SKIP LOCKED" if connection.vendor == "postgresql" else ""
    claim = (
        f"UPDATE {queue} SET receive_count = receive_count + 1, visible_at = %s, receipt = %s"
        f" WHERE id IN (SELECT id FROM {queue} WHERE queue = %s AND dead = %s"
        f" AND visible_at <= %s ORDER BY priority DESC, visible_at, id LIMIT %s{lock})"
        " RETURNING id, body"
    )
    done = 0
    with connection.cursor() as cursor:
        while True:
            now = timezone.now()
            with transaction.atomic():
                cursor.execute(
                    claim,
                    [
                        datetime_param(now + timedelta(seconds=60)),
                        secrets.token_hex(8),
                        settings.QUEUE_NAME,
                        False,
                        datetime_param(now),
                        chunk,
                    ],
                )
                rows = cursor.fetchall()
            if not rows:
                return done
            logs = [uuid_param(uuid.UUID(json.loads(body)["message_id"])) for _, body in rows]
            with transaction.atomic():
                where, params = in_list("id", logs)
                cursor.execute(
                    f"UPDATE {log} SET status = %s, sent_at = %s, updated_at = %s,"
                    f" attempt_count = attempt_count + 1 WHERE {where}",
                    [Status.SENT.value, datetime_param(now), datetime_param(now), *params],
                )
                where, params = in_list("id", [pk for pk, _ in rows])
                cursor.execute(f"DELETE FROM {queue} WHERE {where}", params)
            done += len(rows)


def run(ctx: Context) -> list[Result]:
    sender = measure(ctx, NAME)
    return [sender, against_ceiling(ctx, sender)]


def against_ceiling(ctx: Context, sender: Result, *, name: str = f"{NAME}_ceiling") -> Result:
    """The sender's rate (measured just before) as a share of the raw
    claim + mark sent + ack ceiling on the same queue and database."""
    size = sender.details["messages"]
    empty_tables()
    create_dispatched_batch(size, channel="log")
    with Stopwatch() as sw:
        done = raw_drain(settings.SENDER_BATCH_SIZE)
    expect(done, size, "raw loop claims")
    expect(MessageLog.objects.filter(status=Status.SENT).count(), size, "raw loop sent")
    empty_tables()
    ceiling = per_second(size, sw.seconds)
    return Result(
        name,
        sender.figure,
        "msg/s",
        baseline=ceiling,
        ratio=sender.figure / ceiling,
        aim=f">= 1/{round(1 / AIM_OF_CEILING)} of the ceiling",
        details={"ceiling_messages": size, "ceiling_seconds": sw.seconds},
    ).judge(lambda _figure, ratio: ratio >= AIM_OF_CEILING)


def measure(
    ctx: Context, name: str, *, aim_rate: int = AIM_RATE, aim_ratio: float | None = AIM_RATIO
) -> Result:
    """Time the naive loop and ``sender_drain`` over the configured queue
    (``aim_ratio=None``: the aim is the rate alone)."""
    size = ctx.size(20_000)
    naive_size = ctx.size(2_000)

    empty_tables()
    create_dispatched_batch(naive_size, channel="log")
    with Stopwatch() as naive:
        done = naive_drain(naive_size)
    expect(done, naive_size, "naive loop deliveries")
    expect(MessageLog.objects.filter(status=Status.SENT).count(), naive_size, "naive sent")
    naive_rate = per_second(naive_size, naive.seconds)

    empty_tables()
    create_dispatched_batch(size, channel="log")
    with profiled(ctx, name), Stopwatch() as sw:
        report = sender_drain(until_empty=True)
    expect(report.sent, size, "sender_drain sent")
    expect(MessageLog.objects.filter(status=Status.SENT).count(), size, "logs sent")
    expect(DeliveryAttempt.objects.count(), size, "delivery attempts")
    expect(get_backend().depth().total, 0, "queue entries left")
    rate = per_second(size, sw.seconds)
    dead = queue_dead_tuples()
    empty_tables()

    ratio = rate / naive_rate
    return Result(
        name,
        rate,
        "msg/s",
        baseline=naive_rate,
        ratio=ratio,
        aim=f">= {aim_rate:,} msg/s" + (f", >= {aim_ratio}x" if aim_ratio else ""),
        details={
            "messages": size,
            "seconds": sw.seconds,
            "chunks": report.chunks,
            "baseline_messages": naive_size,
            "baseline_seconds": naive.seconds,
            "queue": get_backend().describe(),
            **({} if dead is None else {"queue_dead_tuples": dead}),
        },
    ).judge(lambda figure, ratio: figure >= aim_rate and (not aim_ratio or ratio >= aim_ratio))


def queue_dead_tuples() -> int | None:
    """The db queue table's dead tuples now (PostgreSQL; ``None`` elsewhere)."""
    if connection.vendor != "postgresql" or settings.QUEUE_BACKEND != "db":
        return None
    with connection.cursor() as cursor:
        if connection.pg_version >= 150000:
            cursor.execute("SELECT pg_stat_force_next_flush()")  # this process's counts first
        cursor.execute(
            "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
            [QueueMessage._meta.db_table],
        )
        return cursor.fetchone()[0]


@contextmanager
def on_transport(
    service: str, drop: Callable[[QueueBackend], None], **overrides: object
) -> Iterator[None]:
    """Point the queue at a transport under throwaway names (``overrides``)
    for a benchmark; ``drop`` deletes what it made, whatever happened."""
    with override_settings(**overrides):
        reset_backends()
        backend = get_backend()
        try:
            backend.ensure()
        except QueueError as exc:
            raise RuntimeError(f"{exc} (bash scripts/services.sh {service} starts one)") from None
        try:
            yield
        finally:
            drop(backend)
            reset_backends()
