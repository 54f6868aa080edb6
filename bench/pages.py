"""A million message logs for the page benchmarks, written as fast as the
database takes them (COPY on PostgreSQL, ``executemany`` on SQLite): 200
batches, a realistic mix of statuses and error signatures over 30 days of
UUIDv7 ids, the queue and DLQ rows that go with the pending and
dead-lettered messages, recent delivery attempts and the hourly counts.

bench/http_load.py seeds its kept database with ``seed_batches`` then
``seed`` and times the pages over HTTP; docs/metrics.md's scrape timing used
the same data.
"""

import math
import random
import uuid
from datetime import UTC, datetime, timedelta

BATCHES = 200
CHUNK = 20_000

STATUS_MIX = [  # (status, share)
    ("sent", 0.86),
    ("failed", 0.06),
    ("permanently_failed", 0.04),
    ("dead_lettered", 0.01),
    ("pending", 0.03),
]
ERRORS = {
    "failed": [
        ("Upstream gateway timeout after {n} ms", "Upstream gateway timeout after <n> ms"),
        (
            "Rate limited by provider: retry after {n} s",
            "Rate limited by provider: retry after <n> s",
        ),
        ("Connection reset by peer 10.0.{n}.1:443", "Connection reset by peer <ip>"),
    ],
    "permanently_failed": [
        (
            "Recipient {r} is not reachable (code 4{n})",
            "Recipient <email> is not reachable (code <n>)",
        ),
        (
            "Message rejected: recipient {r} opted out",
            "Message rejected: recipient <email> opted out",
        ),
        ("Batch or template no longer exists", "Batch or template no longer exists"),
    ],
    "dead_lettered": [
        (
            "Received more than QUEUE_MAX_RECEIVES=5 times without an outcome",
            "Received more than QUEUE_MAX_RECEIVES=<n> times without an outcome",
        ),
    ],
}


def _uuid7(ms: int, rng: random.Random) -> uuid.UUID:
    from retry_admin.models.ids import uuid7_int

    return uuid.UUID(int=uuid7_int(ms, rng.getrandbits(74)))


def _statuses(size: int, rng: random.Random) -> list[str]:
    population = [s for s, _ in STATUS_MIX]
    weights = [w for _, w in STATUS_MIX]
    return rng.choices(population, weights, k=size)


# Seeding


class Seeder:
    """Writes rows as fast as the database takes them, bypassing the ORM."""

    def __init__(self) -> None:
        from django.db import connection

        self.connection = connection
        self.postgres = connection.vendor == "postgresql"

    def _ts(self, moment: datetime):
        if self.postgres:
            return moment
        if moment.tzinfo is UTC:  # every moment the seed makes: skip the conversion
            return moment.isoformat(sep=" ")[:-6]  # without "+00:00"
        return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")

    def _uuid(self, value: uuid.UUID | None):
        if value is None:
            return None
        return value if self.postgres else value.hex

    def insert(self, table: str, columns: list[str], rows: list[tuple]) -> None:
        if not rows:
            return
        with self.connection.cursor() as cursor:
            if self.postgres:
                raw = cursor.cursor
                with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                cursor.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
                )


def seed(size: int, *, seed_value: int = 20) -> None:
    """Seed ``size`` message logs into the batches ``seed_batches`` made."""
    from django.db import transaction
    from django.utils import timezone

    from retry_admin.envelope import Envelope
    from retry_admin.models import (
        Batch,
        DeliveryAttempt,
        HourlyCount,
        MessageLog,
        QueueMessage,
        RetryRun,
        Template,
    )

    rng = random.Random(seed_value)
    seeder = Seeder()
    now = timezone.now()
    start = now - timedelta(days=30)
    template, _ = Template.objects.get_or_create(
        name="Bench pages", defaults={"body": "Hi {{ name }}, your code is {{ code }}."}
    )
    batch_ids = list(
        Batch.objects.filter(name__startswith="pages bench ").values_list("id", flat=True)
    )
    per_batch = math.ceil(size / BATCHES)
    step_ms = (now - start).total_seconds() * 1000 / size
    start_ms = int(start.timestamp() * 1000)
    statuses = _statuses(size, rng)
    hourly: dict[datetime, dict[str, int]] = {}
    day_ago = now - timedelta(hours=24)
    log_columns = [
        "id", "batch_id", "recipient", "context", "status", "retry_count", "receive_count",
        "attempt_count", "dead_letter_count", "last_error", "error_signature",
        "enqueue_source", "next_retry_at", "enqueued_at", "sent_at", "lease_token",
        "lease_expires_at", "created_at", "updated_at",
    ]  # fmt: skip
    queue_columns = [
        "queue", "body", "dead", "priority", "visible_at", "receive_count", "receipt",
        "created_at", "dead_at", "dead_reason",
    ]  # fmt: skip
    failures = {"failed": [], "permanently_failed": [], "dead_lettered": []}
    recent_ids: list[uuid.UUID] = []
    with transaction.atomic():
        for chunk_start in range(0, size, CHUNK):
            logs, queue = [], []
            for i in range(chunk_start, min(size, chunk_start + CHUNK)):
                status = statuses[i]
                ms = start_ms + int(i * step_ms)
                created = datetime.fromtimestamp(ms / 1000, tz=UTC)
                updated = created + timedelta(seconds=rng.randint(1, 600))
                pk = _uuid7(ms, rng)
                batch_id = batch_ids[min(len(batch_ids) - 1, i // per_batch)]
                recipient = f"+4477{i:08d}" if i % 2 else f"user{i}@example.com"
                retries = 0
                last_error = signature = ""
                if status in ERRORS:
                    text, signature = rng.choice(ERRORS[status])
                    last_error = text.format(n=rng.randint(1, 999), r=recipient)
                    retries = 3 if status == "permanently_failed" else rng.randint(0, 2)
                elif status == "sent" and rng.random() < 0.1:
                    retries = rng.randint(1, 2)
                attempts = retries + (0 if status in ("pending", "dead_lettered") else 1)
                logs.append(
                    (
                        seeder._uuid(pk),
                        batch_id,
                        recipient,
                        f'{{"name": "Name {i}", "code": "{i:06d}"}}',  # json.dumps's text
                        status,
                        retries,
                        6 if status == "dead_lettered" else min(attempts, 1),
                        attempts,
                        1 if status == "dead_lettered" else 0,
                        last_error,
                        signature,
                        "retry" if retries else "queue",
                        None,
                        seeder._ts(created),
                        seeder._ts(updated) if status == "sent" else None,
                        None,
                        None,
                        seeder._ts(created),
                        seeder._ts(updated),
                    )
                )
                if status in failures and len(failures[status]) < 50:
                    failures[status].append(pk)
                if status in ("pending", "dead_lettered"):
                    body = Envelope(pk, batch_id, recipient, template.pk, attempts + 1).encode()
                    dead = status == "dead_lettered"
                    queue.append(
                        (
                            "batch-messages",
                            body,
                            dead,
                            0,
                            seeder._ts(updated),
                            6 if dead else 0,
                            None,
                            seeder._ts(created),
                            seeder._ts(updated) if dead else None,
                            last_error if dead else "",
                        )
                    )
                if created >= day_ago:
                    hour = created.replace(minute=0, second=0, microsecond=0)
                    counts = hourly.setdefault(hour, {})
                    counts[status] = counts.get(status, 0) + 1
                    recent_ids.append(pk)
            seeder.insert(MessageLog._meta.db_table, log_columns, logs)
            seeder.insert(QueueMessage._meta.db_table, queue_columns, queue)
        attempts = [
            (
                seeder._uuid(pk),
                1,
                "queue",
                "sent" if rng.random() < 0.9 else "transient",
                "",
                round(rng.lognormvariate(3.4, 0.5), 3),
                seeder._ts(now - timedelta(seconds=rng.randint(0, 86_400))),
            )
            for pk in recent_ids[-20_000:]
        ]
        seeder.insert(
            DeliveryAttempt._meta.db_table,
            ["message_id", "number", "source", "outcome", "error", "duration_ms", "created_at"],
            attempts,
        )
        HourlyCount.objects.bulk_create(
            HourlyCount(
                hour=hour,
                sent=c.get("sent", 0),
                failed=c.get("failed", 0),
                permanently_failed=c.get("permanently_failed", 0),
                dead_lettered=c.get("dead_lettered", 0),
            )
            for hour, c in hourly.items()
        )
        for hours_ago in (18, 12, 6):
            at = now - timedelta(hours=hours_ago)
            RetryRun.objects.create(
                trigger="schedule",
                started_at=at,
                finished_at=at + timedelta(seconds=4),
                selected=900,
                requeued=880,
                still_failed=10,
                permanently_failed=10,
            )
    # A live database's steady state: PostgreSQL's autovacuum would have
    # vacuumed (visibility map: index-only scans) and analyzed these tables
    # minutes after such a load; SQLite gets the statistics of an ANALYZE.
    with seeder.connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if seeder.postgres else "ANALYZE")


def seed_batches() -> list[int]:
    from retry_admin.models import Batch, Template

    template, _ = Template.objects.get_or_create(
        name="Bench pages", defaults={"body": "Hi {{ name }}, your code is {{ code }}."}
    )
    Batch.objects.bulk_create(
        Batch(name=f"pages bench {i}", template=template, channel="log", total=0)
        for i in range(BATCHES)
    )
    return list(Batch.objects.filter(name__startswith="pages bench ").values_list("id", flat=True))
