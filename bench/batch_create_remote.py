"""2c. Creating a batch on SQS and on Azure Storage Queue through the API:
``POST /api/batches/`` with 10,000 recipients answers once the logs are
committed (aim <= 1 s); the enqueueing runs afterwards, in the background,
from the outbox (``services.dispatch.dispatch_batch_task``).

Against the local emulators the tests use: moto in server mode (SQS) and
Azurite (Azure, installed by ``scripts/azurite.sh``), over real HTTP.
Baseline, same run: the answer plus the enqueue of the batch's first
``BASELINE_SAMPLE`` messages (the background task's own code), a lower bound
of what the request took when it sent every message itself before answering.
The emulators are far slower than the real services (moto scans a list per
call, slower as its queue grows: the whole batch would take many minutes),
so only a sample is sent; the answer does not depend on them.
"""

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

NAME = "batch_create_remote"
AIM_SECONDS = 1.0
BASELINE_SAMPLE = 1000


@contextlib.contextmanager
def _moto() -> Iterator[dict]:
    """moto's SQS in server mode on a free port: the settings pointing at it."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    queue = f"bench-{uuid.uuid4().hex[:12]}"
    saved = {key: os.environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        yield {
            "QUEUE_BACKEND": "sqs",
            "QUEUE_NAME": queue,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": "us-east-1",
            "SQS_QUEUE_URL": f"{endpoint}/123456789012/{queue}",
            "SQS_DLQ_URL": f"{endpoint}/123456789012/{queue}-dlq",
            "SQS_WAIT_SECONDS": 0,
        }
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def _azurite(log_path: Path) -> Iterator[dict]:
    """Azurite's queue service on free ports, started as the tests start it:
    the settings pointing at it."""
    from tests.emulators import start_azurite, stop_process

    process, endpoints = start_azurite(log_path)
    try:
        yield {
            "QUEUE_BACKEND": "azure",
            "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:12]}",
            "AZURE_STORAGE_CONNECTION_STRING": endpoints.connection_string(),
        }
    finally:
        stop_process(process)


def _api_client():
    from django.contrib.auth import get_user_model
    from django.test import Client
    from rest_framework.authtoken.models import Token

    from retry_admin.roles import SUPER_ADMIN, ensure_groups

    ensure_groups()
    user, _ = get_user_model().objects.get_or_create(username="bench-api")
    user.groups.set([user.groups.model.objects.get(name=SUPER_ADMIN)])
    token, _ = Token.objects.get_or_create(user=user)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token.key}")


JSON = "application/json"


def _body(template, count: int, prefix: str) -> str:
    recipients = [
        {"recipient": f"{prefix}{i}@example.com", "name": f"Name {i}", "code": f"{i:06d}"}
        for i in range(count)
    ]
    return json.dumps(
        {"template": template.name, "name": prefix, "channel": "log", "recipients": recipients}
    )


def _measure(ctx, settings_for: dict, count: int):
    """(answer seconds, seconds to enqueue a sample) of one API batch."""
    from django.test import override_settings
    from django_q.brokers import get_broker

    from bench.harness import Stopwatch, bench_template, expect
    from retry_admin.models import MessageLog
    from retry_admin.queues import get_backend, reset_backends
    from retry_admin.services.dispatch import dispatch

    template = bench_template()
    client = _api_client()
    body = _body(template, count, "api")
    with override_settings(**settings_for):
        reset_backends()
        try:
            backend = get_backend()
            backend.ensure()
            warm = client.post("/api/batches/", _body(template, 10, "warm"), content_type=JSON)
            expect(warm.status_code, 201, "the warm-up request's status")
            # django-q2's broker: the database (OrmQ) or Redis when REDIS_URL is set.
            broker = get_broker()
            broker.purge_queue()
            with Stopwatch() as answer:
                response = client.post("/api/batches/", body, content_type=JSON)
            if response.status_code != 201:
                raise RuntimeError(
                    f"the API answered {response.status_code}: {response.content[:500]!r}"
                )
            batch_id = response.json()["id"]
            expect(MessageLog.objects.filter(batch_id=batch_id).count(), count, "logs committed")
            waiting = MessageLog.objects.needing_dispatch().filter(batch_id=batch_id).count()
            expect(waiting, count, "logs left for the background enqueue")
            expect(broker.queue_size(), 1, "background dispatch tasks queued")
            broker.purge_queue()  # sent here instead, a sample, timed
            logs = MessageLog.objects.filter(batch_id=batch_id).order_by("id")
            sample = list(logs.values_list("id", flat=True)[:BASELINE_SAMPLE])
            with Stopwatch() as enqueue:
                outcome = dispatch(message_ids=sample)
            expect(outcome.enqueued, len(sample), f"enqueued ({outcome.error})")
        finally:
            reset_backends()
    return answer.seconds, enqueue.seconds, len(sample)


def run(ctx) -> list:
    from bench.harness import Result, empty_tables

    count = ctx.size(10_000)
    rows = []
    for name, emulator in (
        ("sqs (moto server)", lambda: _moto()),
        ("azure (Azurite)", lambda: _azurite(ctx.out_dir / "bench-azurite.log")),
    ):
        empty_tables()
        with emulator() as settings_for:
            answer, enqueue, sample = _measure(ctx, settings_for, count)
        empty_tables()
        inline = answer + enqueue
        rows.append(
            Result(
                f"{NAME} {name}: API answer, {count:,} recipients",
                answer,
                "s",
                baseline=inline,
                ratio=inline / answer,
                aim=f"<= {AIM_SECONDS:g} s",
                details={
                    "recipients": count,
                    "sample_enqueue_seconds": enqueue,
                    "sample": sample,
                    "baseline": f"answer + enqueueing the first {sample:,} (lower bound of inline)",
                },
            ).judge(lambda figure, _: figure <= AIM_SECONDS)
        )
    return rows
