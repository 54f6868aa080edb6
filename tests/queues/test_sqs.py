"""What only SQS does: the redrive policy as a safety net, long polling, name
resolution, and AWS errors turned into messages that say what to fix."""

import json
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin import selectors
from retry_admin.models import MessageLog, RetryRun, Status
from retry_admin.queues import QueueError, get_backend, reset_backends
from retry_admin.services.dlq import REDRIVEN, dlq_reconcile, dlq_replay
from retry_admin.services.health import health_check
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain
from tests.emulators import free_port
from tests.queues.conftest import point_at

pytestmark = pytest.mark.django_db


@pytest.fixture
def sqs(request, settings, db):
    point_at(settings, request, "sqs")
    backend = get_backend()
    backend.ensure()
    return backend


def main_queue_attributes(backend) -> dict:
    client = backend._client()
    return client.get_queue_attributes(QueueUrl=backend._main(), AttributeNames=["All"])[
        "Attributes"
    ]


def test_the_redrive_policy_sits_one_past_the_senders_own_limit(sqs, settings):
    settings.QUEUE_MAX_RECEIVES = 3
    sqs.ensure()
    policy = json.loads(main_queue_attributes(sqs)["RedrivePolicy"])
    assert int(policy["maxReceiveCount"]) == 4
    assert policy["deadLetterTargetArn"].endswith(f":{sqs.dlq_name}")


def test_a_message_moved_by_redrive_is_reconciled_and_can_be_replayed(sqs, settings, make_batch):
    settings.QUEUE_MAX_RECEIVES = 1
    sqs.ensure()  # maxReceiveCount 2
    make_batch(1)
    for _ in range(2):  # two workers died holding it; no sender got to dead-letter it
        [message] = sqs.receive(10, visibility_timeout=30)
        sqs.release([message.handle])
    assert sqs.receive(10, visibility_timeout=30) == []  # SQS moved it on the third receive
    assert sqs.dlq_depth() == 1
    log = MessageLog.objects.get()
    assert log.status == Status.PENDING  # the log does not know yet

    assert dlq_reconcile() == 0  # within the grace period: could be a replay in progress
    MessageLog.objects.update(updated_at=timezone.now() - timedelta(minutes=10))
    assert dlq_reconcile() == 1
    log.refresh_from_db()
    assert (log.status, log.last_error) == (Status.DEAD_LETTERED, REDRIVEN)
    [entry] = sqs.dlq_peek()
    assert "redrive" in entry.reason
    assert entry.receive_count == 2  # what the policy allowed, however often it is peeked
    assert log.receive_count == 2  # the log agrees with its DLQ entry

    assert dlq_replay(ids=None, user=None).replayed == 1
    assert sender_drain(until_empty=True).sent == 1
    log.refresh_from_db()
    assert log.status == Status.SENT


def test_reconcile_leaves_the_db_backend_alone(settings, db):
    settings.QUEUE_BACKEND = "db"
    reset_backends()
    assert dlq_reconcile() == 0


def test_it_finds_its_queues_by_name_without_urls(request, settings, db):
    point_at(settings, request, "sqs")
    settings.SQS_QUEUE_URL = ""
    settings.SQS_DLQ_URL = ""
    reset_backends()
    backend = get_backend()
    backend.ensure()
    assert backend.send(["hello"])[0].ok
    assert [m.body for m in backend.receive(10, visibility_timeout=30)] == ["hello"]
    assert settings.QUEUE_NAME in backend.describe()
    assert backend._dlq().endswith(f"/{settings.QUEUE_NAME}-dlq")


def test_only_the_first_receive_call_long_polls(sqs, settings):
    settings.SQS_WAIT_SECONDS = 1
    sqs.send([f"m{i}" for i in range(15)])
    started = time.monotonic()
    assert len(sqs.receive(20, visibility_timeout=30)) == 15  # 10 + 5, then one empty call
    assert time.monotonic() - started < 0.9
    started = time.monotonic()
    assert sqs.receive(20, visibility_timeout=30) == []
    assert time.monotonic() - started >= 0.9


def test_a_body_with_characters_sqs_refuses_fails_alone(sqs):
    results = sqs.send(["fine", "bell \x07 inside", "fine too"])
    assert [r.ok for r in results] == [True, False, True]
    assert "U+0007" in results[1].error


def test_a_batch_over_256_kib_in_total_is_split(sqs):
    big = "x" * (100 * 1024)
    assert all(r.ok for r in sqs.send([big] * 5))  # 500 KiB: three SendMessageBatch calls
    assert len(sqs.receive(10, visibility_timeout=30)) == 5


def test_one_send_keeps_several_send_message_batch_calls_in_flight(sqs, monkeypatch):
    real = type(sqs)._send_entries
    lock, in_flight, most, calls = threading.Lock(), [0], [0], []

    def counting(self, url, entries, delay):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            calls.append(len(entries))
        try:
            time.sleep(0.05)  # as long as a round trip to real SQS
            return real(self, url, entries, delay)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(type(sqs), "_send_entries", counting)
    bodies = [f"message {i}" for i in range(sqs.max_send_batch)]
    assert all(r.ok for r in sqs.send(bodies))

    assert max(calls) == 10 and sum(calls) == len(bodies)  # SQS's 10 per call
    assert most[0] > 1
    assert int(main_queue_attributes(sqs)["ApproximateNumberOfMessages"]) == len(bodies)


def test_a_failed_call_among_concurrent_ones_fails_only_its_entries(sqs, monkeypatch):
    real = type(sqs)._send_entries

    def third_fails(self, url, entries, delay):
        if entries[0][0] == 20:  # the third call of ten
            raise QueueError("SQS SendMessageBatch failed: InternalError")
        return real(self, url, entries, delay)

    monkeypatch.setattr(type(sqs), "_send_entries", third_fails)
    results = sqs.send([f"m{i}" for i in range(40)])

    assert [i for i, r in enumerate(results) if not r.ok] == list(range(20, 30))
    assert "InternalError" in results[25].error

    def down(self, url, entries, delay):
        raise QueueError("SQS SendMessageBatch failed: down")

    monkeypatch.setattr(type(sqs), "_send_entries", down)
    with pytest.raises(QueueError, match="down"):  # nothing got through: the caller is told
        sqs.send([f"n{i}" for i in range(40)])


# Errors


def test_an_unreachable_endpoint_is_a_clear_queue_error(settings, db):
    dead = f"http://127.0.0.1:{free_port()}"
    settings.QUEUE_BACKEND = "sqs"
    settings.AWS_ENDPOINT_URL = dead
    settings.AWS_REGION = "us-east-1"
    settings.SQS_QUEUE_URL = f"{dead}/123456789012/nowhere"
    settings.SQS_DLQ_URL = ""
    reset_backends()
    with pytest.raises(QueueError, match="SQS endpoint unreachable"):
        get_backend().depth()
    queue = health_check()["checks"]["queue"]
    assert not queue["ok"] and "unreachable" in queue["error"]
    status = selectors.queue_status()
    assert not status["ok"] and "unreachable" in status["error"]


def test_a_missing_queue_says_how_to_create_it(request, settings, db):
    point_at(settings, request, "sqs")  # never ensured
    with pytest.raises(QueueError, match=r"does not exist.*setup_retry_admin"):
        get_backend().send(["x"])


def test_missing_credentials_are_named(request, settings, db, monkeypatch, tmp_path):
    point_at(settings, request, "sqs")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    reset_backends()
    with pytest.raises(QueueError, match="No AWS credentials"):
        get_backend().depth()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("ThrottlingException", "throttling"),
        ("AWS.SimpleQueueService.RequestThrottled", "throttling"),
        ("InvalidClientTokenId", "refused the credentials"),
        ("AccessDenied", "refused the credentials"),
        ("AWS.SimpleQueueService.NonExistentQueue", "does not exist"),
        ("InternalError", "failed: InternalError"),
    ],
)
def test_aws_error_codes_become_messages(code, expected):
    from botocore.exceptions import ClientError

    from retry_admin.queues.sqs.wire import aws_errors as _aws

    error = ClientError({"Error": {"Code": code, "Message": "m"}}, "SendMessageBatch")
    with pytest.raises(QueueError, match=expected), _aws("SendMessageBatch", "queue-url"):
        raise error


def test_the_retry_cycle_treats_an_unreachable_queue_as_next_cycle(
    settings, db, batch_with_failures
):
    dead = f"http://127.0.0.1:{free_port()}"
    settings.QUEUE_BACKEND = "sqs"
    settings.AWS_ENDPOINT_URL = dead
    settings.AWS_REGION = "us-east-1"
    settings.SQS_QUEUE_URL = f"{dead}/123456789012/nowhere"
    reset_backends()
    run = retry_cycle_run(trigger=RetryRun.Trigger.COMMAND)
    assert run.requeued == 0
    assert "Queue unavailable" in run.error and "unreachable" in run.error
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.FAILED}


def test_a_replay_is_paced_by_the_replay_rate(sqs, settings):
    sqs.send([f"m{i}" for i in range(20)])
    received = sqs.receive(20, visibility_timeout=30)
    sqs.dead_letter([m.handle for m in received], reason="testing")
    ids = [e.id for e in sqs.dlq_peek(limit=20)]
    settings.DLQ_REPLAY_RATE = 20  # two batches of 10: the second waits half a second
    started = time.monotonic()
    assert len(sqs.dlq_move(ids).moved) == 20
    assert time.monotonic() - started >= 0.45
