import pytest

from retry_admin.envelope import decode
from retry_admin.models import (
    AuditEvent,
    Batch,
    DeliveryAttempt,
    MessageLog,
    QueueMessage,
    Status,
    Template,
)
from retry_admin.queues import QueueError
from retry_admin.queues.db import DatabaseQueue
from retry_admin.services import batch_writer
from retry_admin.services.batches import (
    BatchValidationError,
    IdempotencyKeyReused,
    LineError,
    RecipientRow,
    TooManyRecipients,
    batch_create,
)
from retry_admin.services.dispatch import dispatch
from retry_admin.services.sender import sender_drain
from tests.conftest import make_rows, run_queued_tasks

pytestmark = pytest.mark.django_db


def _row(line: int, recipient: str, **context) -> RecipientRow:
    return RecipientRow(line=line, recipient=recipient, context=context)


def _refused(template, recipients, **kwargs) -> list[LineError]:
    """Create a batch that must be refused; returns its errors, after checking
    that nothing at all was written."""
    with pytest.raises(BatchValidationError) as info:
        batch_create(name="Refused", template=template, recipients=recipients, **kwargs)
    assert Batch.objects.count() == 0
    assert MessageLog.objects.count() == 0
    assert QueueMessage.objects.count() == 0
    return info.value.errors


# Creating


def test_it_writes_the_batch_and_one_pending_log_per_recipient(template):
    result = batch_create(name="  Spring sale ", template=template, recipients=make_rows(3))

    batch = Batch.objects.get()
    assert (result.batch, result.created, result.duplicates_removed) == (batch, True, 0)
    assert (batch.name, batch.template, batch.channel, batch.total) == (
        "Spring sale",
        template,
        "log",
        3,
    )
    logs = MessageLog.objects.filter(batch=batch).order_by("recipient")
    assert [(log.recipient, log.context, log.status) for log in logs] == [
        ("user0@example.com", {"name": "N0"}, Status.PENDING),
        ("user1@example.com", {"name": "N1"}, Status.PENDING),
        ("user2@example.com", {"name": "N2"}, Status.PENDING),
    ]


def test_the_db_queue_is_written_in_the_same_transaction(template):
    from django.db import transaction

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        batch_create(name="B", template=template, recipients=make_rows(3))
        assert QueueMessage.objects.count() == 3
        assert MessageLog.objects.filter(enqueued_at__isnull=True).count() == 0
        raise Abort
    assert (MessageLog.objects.count(), QueueMessage.objects.count()) == (0, 0)


def test_other_transports_are_reached_only_after_commit(
    template, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(DatabaseQueue, "transactional", False)  # as SQS and Azure are
    with django_capture_on_commit_callbacks() as callbacks:
        batch = batch_create(name="B", template=template, recipients=make_rows(3)).batch
        assert QueueMessage.objects.count() == 0
    assert len(callbacks) == 1

    callbacks[0]()
    assert QueueMessage.objects.count() == 0  # queued for the background, not sent here
    queued = run_queued_tasks()
    assert queued == [
        ("retry_admin.services.dispatch.dispatch_batch_task", {"enqueued": 3, "error": ""})
    ]

    assert QueueMessage.objects.count() == 3
    assert {decode(m.body).message_id for m in QueueMessage.objects.all()} == set(
        MessageLog.objects.filter(batch=batch).values_list("id", flat=True)
    )
    assert MessageLog.objects.filter(enqueued_at__isnull=True).count() == 0


def test_the_envelope_points_at_the_log(make_batch, template):
    batch = make_batch(1)
    log = MessageLog.objects.get()
    envelope = decode(QueueMessage.objects.get().body)
    assert (envelope.message_id, envelope.batch_id, envelope.recipient) == (
        log.pk,
        batch.pk,
        log.recipient,
    )
    assert (envelope.template_id, envelope.attempt) == (template.pk, 1)


def test_it_removes_duplicate_recipients_ignoring_case(make_batch):
    rows = [
        _row(1, "ana@example.com", name="Ana"),
        _row(2, "ANA@Example.com", name="Ana again"),
        _row(3, " ana@example.com ", name="Ana, padded"),
        _row(4, "bo@example.com", name="Bo"),
    ]

    batch = make_batch(recipients=rows)

    assert batch.total == 2
    assert sorted(MessageLog.objects.values_list("recipient", "context")) == [
        ("ana@example.com", {"name": "Ana"}),
        ("bo@example.com", {"name": "Bo"}),
    ]
    assert QueueMessage.objects.count() == 2


def test_it_reports_how_many_duplicates_it_removed(template):
    rows = [_row(1, "a@x.io", name="A"), _row(2, "A@X.IO", name="A"), _row(3, "b@x.io", name="B")]
    result = batch_create(name="B", template=template, recipients=rows)
    assert result.duplicates_removed == 1


def test_it_audits_a_batch_created_by_a_user(template, super_admin):
    result = batch_create(name="B", template=template, recipients=make_rows(3), user=super_admin)

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.count) == ("batch_create", super_admin, 3)
    assert event.target == f"batch {result.batch.pk}"
    assert result.batch.created_by == super_admin


def test_it_writes_no_audit_event_without_a_user(template):
    batch_create(name="B", template=template, recipients=make_rows(1))
    assert AuditEvent.objects.count() == 0


def test_an_idempotency_key_returns_the_first_batch(template, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = batch_create(
            name="B", template=template, recipients=make_rows(3), idempotency_key="k-1"
        )
    with django_capture_on_commit_callbacks(execute=True):
        second = batch_create(
            name="B", template=template, recipients=make_rows(3), idempotency_key="k-1"
        )

    assert first.created and not second.created
    assert second.batch.pk == first.batch.pk
    assert Batch.objects.count() == 1
    assert MessageLog.objects.count() == 3
    assert QueueMessage.objects.count() == 3


def test_an_idempotency_key_reused_for_other_recipients_is_refused(
    template, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = batch_create(
            name="B", template=template, recipients=make_rows(3), idempotency_key="k-1"
        )

    with pytest.raises(IdempotencyKeyReused) as info:
        batch_create(name="B", template=template, recipients=make_rows(5), idempotency_key="k-1")

    assert info.value.batch == first.batch
    assert "k-1" in str(info.value)
    assert Batch.objects.count() == 1
    assert MessageLog.objects.count() == 3


# Refusing bad input


def test_it_refuses_an_empty_recipient(template):
    errors = _refused(template, [_row(1, "a@x.io", name="A"), _row(2, "   ", name="B")])
    assert errors == [LineError(2, "recipient is empty")]


def test_it_refuses_a_recipient_with_a_control_character(template):
    errors = _refused(template, [_row(1, "a\x07b@x.io", name="A"), _row(2, "c@x.io", name="C")])
    assert errors == [LineError(1, "recipient contains control characters")]


def test_it_refuses_a_recipient_over_320_characters(template):
    errors = _refused(template, [_row(1, "a" * 321, name="A")])
    assert errors == [LineError(1, "recipient is longer than 320 characters")]


def test_it_accepts_a_recipient_of_exactly_320_characters(template):
    batch_create(name="B", template=template, recipients=[_row(1, "a" * 320, name="A")])
    assert MessageLog.objects.get().recipient == "a" * 320


def test_it_refuses_a_context_that_is_not_an_object(template):
    rows = [_row(1, "a@x.io", name="A"), RecipientRow(2, "b@x.io", ["name", "B"])]
    errors = _refused(template, rows)
    assert [(e.line, "context must be an object" in e.message) for e in errors] == [(2, True)]


def test_it_refuses_an_unknown_placeholder_naming_it(db):
    template = Template.objects.create(name="Code", body="Your code is {{ code }}")
    errors = _refused(template, [_row(1, "a@x.io", name="A"), _row(2, "b@x.io", name="B")])
    assert len(errors) == 1
    assert errors[0].line == 0
    assert "{{ code }}" in errors[0].message


def test_it_refuses_a_placeholder_missing_on_some_lines(template):
    rows = [_row(1, "a@x.io", name="A"), _row(2, "b@x.io"), _row(3, "c@x.io", name="C")]
    errors = _refused(template, rows)
    assert errors == [LineError(2, "no value for placeholder 'name'")]


def test_it_reports_a_placeholder_missing_on_some_lines_per_line_beside_an_unknown_one(db):
    template = Template.objects.create(name="Two", body="{{ code }} for {{ name }}")
    rows = [_row(1, "a@x.io", name="A"), _row(2, "b@x.io")]  # no row has code; row 2 no name

    errors = _refused(template, rows)

    assert [e.line for e in errors] == [0, 2]
    assert "{{ code }}" in errors[0].message
    assert errors[1] == LineError(2, "no value for placeholder 'name'")


def test_it_reports_each_placeholder_missing_on_some_lines_per_line(db):
    template = Template.objects.create(name="Two", body="{{ name }} in {{ city }}")
    rows = [
        _row(1, "a@x.io", name="A"),
        _row(2, "b@x.io", name="B"),
        _row(3, "c@x.io", name="C"),
        _row(4, "d@x.io", city="Oslo"),
    ]

    errors = _refused(template, rows)

    assert errors == [
        LineError(1, "no value for placeholder 'city'"),
        LineError(2, "no value for placeholder 'city'"),
        LineError(3, "no value for placeholder 'city'"),
        LineError(4, "no value for placeholder 'name'"),
    ]


def test_the_recipient_placeholder_needs_no_column(db):
    template = Template.objects.create(name="Hi", body="Hi {{ recipient }}")
    batch_create(name="B", template=template, recipients=[_row(1, "a@x.io")])
    assert MessageLog.objects.count() == 1


def test_it_refuses_an_unknown_channel(template):
    errors = _refused(template, make_rows(2), channel="carrier-pigeon")
    assert [e.line for e in errors] == [0]
    assert "Unknown channel 'carrier-pigeon'" in errors[0].message


def test_it_refuses_the_webhook_channel_without_a_webhook_url(template, settings):
    settings.WEBHOOK_URL = ""
    errors = _refused(template, make_rows(2), channel="webhook")
    assert errors == [LineError(0, "The webhook channel needs WEBHOOK_URL to be set")]


def test_it_refuses_a_malformed_template(db):
    template = Template.objects.create(name="Bad", body="Hello {{ 1bad }}")
    errors = _refused(template, [_row(1, "a@x.io")])
    assert len(errors) == 1 and errors[0].line == 0
    assert "Malformed placeholder" in errors[0].message
    assert "{{ 1bad }}" in errors[0].message


def test_it_refuses_a_batch_without_recipients(template):
    errors = _refused(template, [])
    assert errors == [LineError(0, "No recipients: add at least one")]


def test_it_refuses_too_many_recipients(template, settings):
    settings.MAX_BATCH_RECIPIENTS = 3
    errors = _refused(template, make_rows(4))
    assert errors == [LineError(0, "Too many recipients: 4 > 3")]


def test_the_recipient_limit_counts_unique_recipients(template, settings):
    settings.MAX_BATCH_RECIPIENTS = 3
    rows = [*make_rows(3), _row(4, "USER0@example.com", name="dup")]
    assert batch_create(name="B", template=template, recipients=rows).batch.total == 3


def test_it_finds_the_one_bad_line_in_fifty_thousand(template):
    rows = make_rows(50_000)
    rows[31_336] = _row(31_337, "", name="x")

    errors = _refused(template, rows)

    assert errors == [LineError(31_337, "recipient is empty")]


def test_it_reports_every_bad_line(template):
    rows = [_row(1, ""), _row(2, "ok@x.io", name="A"), _row(3, "x" * 400, name="B")]
    errors = _refused(template, rows)
    assert [e.line for e in errors] == [1, 3]


# The outbox


def test_nothing_is_lost_while_the_queue_is_down(
    template, monkeypatch, django_capture_on_commit_callbacks, caplog
):
    def down(self, bodies, **kwargs):
        raise QueueError("queue is down")

    monkeypatch.setattr(DatabaseQueue, "send", down)
    with django_capture_on_commit_callbacks(execute=True):
        result = batch_create(name="B", template=template, recipients=make_rows(7))

    assert result.created
    assert MessageLog.objects.count() == 7
    assert MessageLog.objects.filter(status=Status.PENDING, enqueued_at__isnull=True).count() == 7
    assert QueueMessage.objects.count() == 0
    assert "Queue unavailable while creating batch" in caplog.text
    # Its background dispatch finds the queue still down: the logs stay.
    assert run_queued_tasks() == [
        (
            "retry_admin.services.dispatch.dispatch_batch_task",
            {"enqueued": 0, "error": "queue is down"},
        )
    ]
    assert "stay in the outbox" in caplog.text
    assert MessageLog.objects.needing_dispatch().count() == 7

    monkeypatch.undo()
    dispatched = dispatch()

    assert dispatched.enqueued == 7
    assert QueueMessage.objects.count() == 7
    assert MessageLog.objects.filter(enqueued_at__isnull=True).count() == 0
    assert dispatch().enqueued == 0  # a second dispatcher run finds the outbox empty

    report = sender_drain(until_empty=True)

    assert report.sent == 7
    assert MessageLog.objects.filter(status=Status.SENT).count() == 7
    assert DeliveryAttempt.objects.count() == 7
    assert set(DeliveryAttempt.objects.values_list("message_id", flat=True)) == set(
        MessageLog.objects.values_list("id", flat=True)
    )
    assert QueueMessage.objects.count() == 0


# Background dispatch (services.dispatch.dispatch_pending)


def _committed_outbox(template, count: int, monkeypatch) -> Batch:
    """A batch on a transport outside the database: committed, its
    background dispatch queued, nothing sent yet (as after a crash right
    after the commit)."""
    monkeypatch.setattr(DatabaseQueue, "transactional", False)  # as SQS and Azure are
    batch = batch_create(name="B", template=template, recipients=make_rows(count)).batch
    assert MessageLog.objects.needing_dispatch().count() == count
    return batch


def test_a_crash_after_commit_is_sent_by_the_minute_dispatcher_and_only_once(template, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from retry_admin import tasks
    from retry_admin.services.dispatch import dispatch_batch_task

    batch = _committed_outbox(template, 4, monkeypatch)
    MessageLog.objects.update(updated_at=timezone.now() - timedelta(minutes=2))

    assert tasks.dispatch_outbox() == {"enqueued": 4, "error": ""}
    # The batch's own task, run late, finds nothing left: nothing goes twice.
    assert dispatch_batch_task(batch.pk) == {"enqueued": 0, "error": ""}
    assert QueueMessage.objects.count() == 4
    assert sender_drain(until_empty=True).sent == 4
    assert DeliveryAttempt.objects.count() == 4


def test_background_dispatch_waits_for_a_walk_already_running(template, monkeypatch):
    from retry_admin.locks import lock_acquire, lock_release
    from retry_admin.services.dispatch import DISPATCH_LOCK, dispatch_pending

    batch = _committed_outbox(template, 3, monkeypatch)
    token = lock_acquire(DISPATCH_LOCK, ttl_seconds=300)

    assert dispatch_pending(batch_id=batch.pk, wait_seconds=0.3) is None  # gave up: the holder
    assert QueueMessage.objects.count() == 0  # sent nothing alongside it

    lock_release(DISPATCH_LOCK, token)
    result = dispatch_pending(batch_id=batch.pk, wait_seconds=0.3)
    assert (result.enqueued, result.error) == (3, "")
    assert MessageLog.objects.needing_dispatch().count() == 0


def test_background_dispatch_of_one_batch_leaves_the_others(template, monkeypatch):
    from retry_admin.services.dispatch import dispatch_backlog, dispatch_pending

    first = _committed_outbox(template, 3, monkeypatch)
    second = batch_create(name="C", template=template, recipients=make_rows(2, prefix="c")).batch

    assert dispatch_pending(batch_id=first.pk).enqueued == 3
    assert (dispatch_backlog(first.pk), dispatch_backlog(second.pk)) == (0, 2)
    assert dispatch_pending().enqueued == 2


# Streaming: rows are checked and written a chunk at a time


def _stream(count: int, *, prefix: str = "user"):
    """Rows made as they are read, as a CSV being parsed gives them."""
    for i in range(count):
        yield _row(i + 1, f"{prefix}{i}@example.com", name=f"N{i}")


def test_duplicates_are_found_across_chunks_and_the_first_is_kept(template, monkeypatch):
    monkeypatch.setattr(batch_writer, "CHUNK_ROWS", 3)
    rows = [
        _row(1, "a@x.io", name="first a"),
        _row(2, "b@x.io", name="B"),
        _row(3, "c@x.io", name="C"),
        _row(4, "A@X.IO", name="second a"),  # next chunk, another case
        _row(5, "d@x.io", name="D"),
        _row(6, "d@x.io", name="D again"),  # same chunk
        _row(7, "B@x.io", name="second b"),
    ]
    result = batch_create(name="B", template=template, recipients=iter(rows))

    assert (result.batch.total, result.duplicates_removed) == (4, 3)
    assert dict(MessageLog.objects.values_list("recipient", "context__name")) == {
        "a@x.io": "first a",
        "b@x.io": "B",
        "c@x.io": "C",
        "d@x.io": "D",
    }
    assert QueueMessage.objects.count() == 4


def test_a_bad_line_in_the_last_chunk_writes_nothing_and_every_error_is_listed(
    template, monkeypatch
):
    monkeypatch.setattr(batch_writer, "CHUNK_ROWS", 2)
    rows = [*_stream(5), _row(6, "", name="x"), LineError(7, "cannot be read as CSV")]
    rows.insert(1, _row(99, "bell\x07@x.io", name="x"))

    errors = _refused(template, iter(rows))

    assert [(e.line, e.message) for e in errors] == [
        (6, "recipient is empty"),
        (7, "cannot be read as CSV"),
        (99, "recipient contains control characters"),
    ]


def test_too_many_recipients_is_its_own_refusal(template, settings):
    settings.MAX_BATCH_RECIPIENTS = 3
    with pytest.raises(TooManyRecipients) as info:
        batch_create(name="B", template=template, recipients=_stream(5))
    assert info.value.errors == [LineError(0, "Too many recipients: 5 > 3")]
    assert MessageLog.objects.count() == Batch.objects.count() == 0


def test_memory_does_not_grow_with_the_batch(template, monkeypatch):
    """Peak Python memory while creating 20,000 recipients is about that of
    2,000 (a chunk's worth), not ten times it."""
    import tracemalloc

    monkeypatch.setattr(batch_writer, "CHUNK_ROWS", 1000)

    def peak(count: int, prefix: str) -> int:
        tracemalloc.start()
        try:
            batch_create(name=prefix, template=template, recipients=_stream(count, prefix=prefix))
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000, "s"), peak(20_000, "l")

    assert MessageLog.objects.count() == 22_000
    assert large < 1.5 * small, (small, large)
