import json
import uuid

import pytest

from retry_admin.models import DeliveryAttempt, HourlyCount, MessageLog, QueueMessage, Status
from retry_admin.queues import get_backend
from retry_admin.services.sender import sender_drain, sender_process_chunk

pytestmark = pytest.mark.django_db


def test_it_delivers_a_batch_end_to_end(make_batch):
    batch = make_batch(25)
    report = sender_drain(until_empty=True)
    assert report.sent == 25
    assert MessageLog.objects.filter(batch=batch, status=Status.SENT).count() == 25
    assert DeliveryAttempt.objects.filter(outcome="sent").count() == 25
    assert QueueMessage.objects.count() == 0
    assert HourlyCount.objects.get().sent == 25


def test_it_records_durations_and_sources(make_batch):
    make_batch(2)
    sender_drain(until_empty=True)
    attempt = DeliveryAttempt.objects.first()
    assert attempt.source == "queue"
    assert attempt.number == 1
    assert attempt.duration_ms >= 0


def test_it_skips_a_duplicate_envelope_of_a_sent_message(make_batch):
    make_batch(1)
    log = MessageLog.objects.get()
    body = QueueMessage.objects.get().body
    get_backend().send([body])  # the transport delivers it twice
    report = sender_drain(until_empty=True)
    assert report.sent == 1
    assert report.skipped == 1
    assert DeliveryAttempt.objects.filter(message=log).count() == 1
    assert QueueMessage.objects.count() == 0


def test_it_sends_a_message_once_when_two_copies_arrive_in_one_chunk(make_batch):
    make_batch(1)
    get_backend().send([QueueMessage.objects.get().body])
    report = sender_process_chunk()
    assert (report.sent, report.skipped) == (1, 1)


def test_it_dead_letters_a_body_that_is_not_our_envelope(make_batch, caplog):
    get_backend().send(["this is not json", json.dumps({"v": 9})])
    report = sender_drain(until_empty=True)
    assert report.received == 2
    dead = get_backend().dlq_peek()
    assert {d.body for d in dead} == {"this is not json", '{"v": 9}'}
    assert all("Not a Retry Admin envelope" in d.reason for d in dead)
    assert "not our envelope" in caplog.text


def test_it_dead_letters_an_envelope_for_an_unknown_message_id(db, caplog):
    missing = uuid.uuid4()
    body = json.dumps(
        {
            "v": 1,
            "message_id": str(missing),
            "batch_id": 1,
            "recipient": "x",
            "template_id": 1,
            "attempt": 1,
        }
    )
    get_backend().send([body])
    sender_drain(until_empty=True)
    [dead] = get_backend().dlq_peek()
    assert dead.body == body
    assert str(missing) in dead.reason
    assert str(missing) in caplog.text


def test_it_marks_transient_failures_failed_and_permanent_ones_permanently_failed(
    make_batch, settings
):
    settings.SIMULATED_TRANSIENT_RATE = 0.5
    settings.SIMULATED_PERMANENT_RATE = 0.25
    make_batch(80, channel="simulated")
    report = sender_drain(until_empty=True)
    counts = {s: MessageLog.objects.filter(status=s).count() for s in Status.values}
    assert counts[Status.SENT] == report.sent > 0
    assert counts[Status.FAILED] == report.failed > 0
    assert counts[Status.PERMANENTLY_FAILED] == report.permanently_failed > 0
    failed = MessageLog.objects.filter(status=Status.FAILED).first()
    assert failed.last_error and failed.error_signature
    assert failed.attempt_count == 1 and failed.retry_count == 0


def test_a_transient_failure_out_of_retries_is_permanent(make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    make_batch(1, channel="simulated")
    MessageLog.objects.update(retry_count=settings.MAX_MESSAGE_RETRY_COUNT)
    sender_drain(until_empty=True)
    assert MessageLog.objects.get().status == Status.PERMANENTLY_FAILED


def test_it_dead_letters_after_too_many_receives(make_batch, settings):
    settings.QUEUE_MAX_RECEIVES = 2
    make_batch(1)
    backend = get_backend()
    for _ in range(2):  # two workers received it and died before recording anything
        [msg] = backend.receive(10, visibility_timeout=30)
        backend.release([msg.handle])
    report = sender_drain(until_empty=True)
    assert report.dead_lettered == 1
    log = MessageLog.objects.get()
    assert log.status == Status.DEAD_LETTERED
    assert log.dead_letter_count == 1
    assert "QUEUE_MAX_RECEIVES=2" in log.last_error
    assert backend.dlq_depth() == 1
    assert HourlyCount.objects.get().dead_lettered == 1


def test_a_missing_template_is_a_permanent_failure(make_batch):
    batch = make_batch(2)
    batch.template.delete()
    sender_drain(until_empty=True)
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PERMANENTLY_FAILED}


def test_a_channel_bug_is_recorded_as_transient_and_the_chunk_goes_on(make_batch, monkeypatch):
    from retry_admin.channels.log import LogChannel

    calls = []

    def flaky(self, message):
        calls.append(message.recipient)
        if len(calls) == 1:
            raise ZeroDivisionError("boom")

    monkeypatch.setattr(LogChannel, "send", flaky)
    make_batch(3)
    report = sender_drain(until_empty=True)
    assert (report.sent, report.failed) == (2, 1)
    assert "ZeroDivisionError: boom" in MessageLog.objects.get(status=Status.FAILED).last_error


def test_a_message_leased_by_another_worker_is_deferred_not_sent(make_batch):
    from datetime import timedelta

    from django.utils import timezone

    make_batch(1)
    MessageLog.objects.update(
        lease_token=uuid.uuid4(), lease_expires_at=timezone.now() + timedelta(seconds=60)
    )
    report = sender_process_chunk()
    assert report.deferred == 1 and report.sent == 0
    assert get_backend().depth().delayed == 1
    assert MessageLog.objects.get().status == Status.PENDING


def test_an_envelope_of_a_dead_lettered_log_goes_back_to_the_dlq_not_away(make_batch):
    """On SQS/Azure the log is marked dead-lettered before the copy to the DLQ;
    if that copy failed the envelope returns to the main queue. Acking it would
    leave the message in neither queue."""
    make_batch(1)
    MessageLog.objects.update(status=Status.DEAD_LETTERED, last_error="too many receives")
    report = sender_drain(until_empty=True)
    assert report.skipped == 0
    [dead] = get_backend().dlq_peek()
    assert dead.reason == "too many receives"
    log = MessageLog.objects.get()
    assert (log.status, log.dead_letter_count) == (Status.DEAD_LETTERED, 0)


def test_a_context_that_is_not_an_object_is_a_permanent_failure_not_a_crash(make_batch):
    batch = make_batch(3)
    broken = MessageLog.objects.filter(batch=batch).first()
    MessageLog.objects.filter(pk=broken.pk).update(context=["not", "an", "object"])

    report = sender_drain(until_empty=True)

    assert (report.sent, report.permanently_failed) == (2, 1)
    broken.refresh_from_db()
    assert broken.status == Status.PERMANENTLY_FAILED
    assert "not a set of column values" in broken.last_error


@pytest.mark.django_db(transaction=True)
def test_a_commit_that_went_through_before_the_connection_died_is_not_recorded_twice(
    make_batch, monkeypatch
):
    """The database answers the COMMIT with an error (it went down just after
    committing): the sender waits it out and tries again, and must find the
    group recorded instead of recording it a second time."""
    from django.db import OperationalError, transaction

    from retry_admin.services import sender_record

    make_batch(4)
    real_record, lost = sender_record.group_record, []

    def lose_the_answer_once():
        if not lost:
            lost.append(1)
            raise OperationalError("server closed the connection unexpectedly")

    def record_then_lose_the_answer(*args, **kwargs):
        counts = real_record(*args, **kwargs)
        transaction.on_commit(lose_the_answer_once)  # runs after the COMMIT
        return counts

    monkeypatch.setattr(sender_record, "group_record", record_then_lose_the_answer)
    sender_drain(until_empty=True)

    assert lost == [1]
    assert MessageLog.objects.filter(status=Status.SENT).count() == 4
    assert DeliveryAttempt.objects.count() == 4


def test_a_chunk_costs_the_same_few_queries_whatever_its_size(make_batch, settings):
    """Never a query per message: the lease is taken with the read
    (UPDATE … RETURNING), and an in-process channel (log) is recorded a chunk
    at a time, attempt rows in one statement."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.SENDER_BATCH_SIZE = 100
    settings.SENDER_CONCURRENCY = 4  # the window of channels that wait on I/O, not of log
    counts = []
    for size in (10, 100):
        make_batch(size)
        with CaptureQueriesContext(connection) as queries:
            report = sender_process_chunk()
        assert report.sent == size
        counts.append(len(queries.captured_queries))
        attempts = [q for q in queries.captured_queries if "deliveryattempt" in q["sql"].lower()]
        assert len(attempts) <= 1  # one executemany (COPY on PostgreSQL is not a query here)
    assert counts[0] == counts[1]
    assert DeliveryAttempt.objects.count() == 110
    assert HourlyCount.objects.get().sent == 110
    assert QueueMessage.objects.count() == 0


def test_a_retry_sent_clears_its_earlier_error_beside_first_attempts(make_batch):
    """First attempts are marked sent without rewriting their (empty) error
    signature; a log that carries an earlier attempt's error in the same
    chunk is still cleared, and every one is counted once."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_batch(6)
    retried = list(MessageLog.objects.order_by("id")[:2])
    MessageLog.objects.filter(pk__in=[log.pk for log in retried]).update(
        last_error="Upstream gateway timeout after 30 ms",
        error_signature="Upstream gateway timeout after <n> ms",
        attempt_count=1,
    )

    with CaptureQueriesContext(connection) as queries:
        report = sender_process_chunk()

    assert report.sent == 6
    assert HourlyCount.objects.get().sent == 6
    assert not MessageLog.objects.exclude(last_error="", error_signature="").exists()
    assert MessageLog.objects.filter(status=Status.SENT).count() == 6
    sent_updates = [
        q["sql"] for q in queries.captured_queries if "SET status" in q["sql"].replace('"', "")
    ]
    assert len(sent_updates) == 2  # the first attempts' statement, then the retries'


def test_a_chunk_of_first_attempts_is_marked_sent_in_one_statement(make_batch):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_batch(6)
    with CaptureQueriesContext(connection) as queries:
        sender_process_chunk()

    sent_updates = [
        q["sql"] for q in queries.captured_queries if "SET status" in q["sql"].replace('"', "")
    ]
    assert len(sent_updates) == 1
    assert "error_signature =" not in sent_updates[0].split("WHERE")[0]


def test_attempt_rows_are_written_in_as_many_statements_as_the_parameter_limit_needs(
    make_batch, monkeypatch
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_batch(7)
    monkeypatch.setattr(connection.features, "max_query_params", 21)  # 3 rows of 7 columns
    with CaptureQueriesContext(connection) as queries:
        report = sender_process_chunk()

    inserts = [
        q for q in queries.captured_queries if "INSERT INTO retry_admin_deliveryattempt" in q["sql"]
    ]
    if connection.vendor != "postgresql":  # COPY there, not a query
        assert len(inserts) == 3  # 3 + 3 + 1
    assert report.sent == 7
    rows = DeliveryAttempt.objects.values_list("message_id", "number", "outcome", "source")
    assert sorted(rows) == sorted(
        (pk, 1, "sent", "queue") for pk in MessageLog.objects.values_list("id", flat=True)
    )


def test_a_lease_that_fails_gives_the_chunk_back_to_the_queue_at_once(make_batch, monkeypatch):
    """On the embedded queue the claim and the lease commit together: a
    lease that fails leaves no message invisible for a visibility timeout."""
    from django.db import OperationalError

    from retry_admin.services import sender_intake

    make_batch(3)

    def lose_the_database(*args, **kwargs):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(sender_intake, "_lease", lose_the_database)
    with pytest.raises(OperationalError):
        sender_process_chunk()
    depth = get_backend().depth()
    assert (depth.visible, depth.in_flight) == (3, 0)
    assert QueueMessage.objects.filter(receive_count=0).count() == 3


def test_an_attempt_keeps_an_error_text_as_the_channel_gave_it(make_batch, monkeypatch):
    from retry_admin.channels.base import TransientError
    from retry_admin.channels.log import LogChannel

    text = "tab\there, line\nbreak, return\r, back\\slash, \\N, é ✓"

    def refuse(self, message):
        raise TransientError(text)

    monkeypatch.setattr(LogChannel, "send", refuse)
    make_batch(2)
    sender_drain(until_empty=True)
    assert [a.error for a in DeliveryAttempt.objects.all()] == [text, text]
    assert DeliveryAttempt.objects.filter(outcome="transient", number=1).count() == 2
