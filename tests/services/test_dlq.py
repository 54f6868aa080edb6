import pytest

from retry_admin.envelope import decode
from retry_admin.models import AuditEvent, DeliveryAttempt, MessageLog, QueueMessage, Status
from retry_admin.queues import get_backend
from retry_admin.services.dlq import dlq_purge, dlq_replay
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.django_db


def _dlq_by_message() -> dict:
    """DLQ id by message id, for the readable entries."""
    return {decode(e.body).message_id: e.id for e in get_backend().dlq_peek()}


def _ids(batch) -> list:
    return list(MessageLog.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


# Replay


def test_it_replays_the_whole_dlq_and_the_sender_delivers_each_message_once(
    make_dead_lettered, super_admin
):
    batch = make_dead_lettered(3)
    backend = get_backend()
    assert backend.dlq_depth() == 3
    assert backend.depth().total == 0

    result = dlq_replay(ids=None, user=super_admin)

    assert (result.replayed, result.unreadable, result.failed) == (3, {}, {})
    assert backend.dlq_depth() == 0
    assert backend.depth().visible == 3
    for log in MessageLog.objects.filter(batch=batch):
        assert log.status == Status.PENDING
        assert log.enqueue_source == "dlq_replay"
        assert log.receive_count == 0

    report = sender_drain(until_empty=True)

    assert report.sent == 3
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.SENT}
    for pk in _ids(batch):
        assert list(DeliveryAttempt.objects.filter(message_id=pk).values_list("source")) == [
            ("dlq_replay",)
        ]
    assert QueueMessage.objects.count() == 0


def test_a_second_replay_finds_nothing_to_do(make_dead_lettered, super_admin):
    make_dead_lettered(2)
    dlq_replay(ids=None, user=super_admin)

    again = dlq_replay(ids=None, user=super_admin)

    assert again.replayed == 0
    assert get_backend().depth().visible == 2


def test_it_replays_only_the_selected_entries(make_dead_lettered, super_admin):
    batch = make_dead_lettered(3)
    first, second, third = _ids(batch)
    dlq = _dlq_by_message()

    result = dlq_replay(ids=[dlq[first], dlq[third]], user=super_admin)

    assert result.replayed == 2
    assert set(_dlq_by_message()) == {second}
    statuses = dict(MessageLog.objects.values_list("id", "status"))
    assert statuses == {
        first: Status.PENDING,
        second: Status.DEAD_LETTERED,
        third: Status.PENDING,
    }
    sender_drain(until_empty=True)
    assert set(DeliveryAttempt.objects.values_list("message_id", flat=True)) == {first, third}


def test_an_unreadable_body_stays_in_the_dlq_and_is_reported(make_dead_lettered, super_admin):
    make_dead_lettered(2)
    backend = get_backend()
    backend.send(["this is not an envelope"])
    sender_drain(until_empty=True)  # the sender dead-letters the garbage
    [garbage] = [e for e in backend.dlq_peek() if e.body == "this is not an envelope"]
    assert backend.dlq_depth() == 3

    result = dlq_replay(ids=None, user=super_admin)

    assert result.replayed == 2
    assert list(result.unreadable) == [garbage.id]
    assert "Not a Retry Admin envelope" in result.unreadable[garbage.id]
    assert [e.body for e in backend.dlq_peek()] == ["this is not an envelope"]
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_a_message_back_in_the_dlq_after_a_replay_counts_twice(make_dead_lettered, super_admin):
    make_dead_lettered(1)
    assert MessageLog.objects.get().dead_letter_count == 1
    dlq_replay(ids=None, user=super_admin)

    receive_and_drop()  # it goes wrong again in the same way
    report = sender_drain(until_empty=True)

    assert report.dead_lettered == 1
    log = MessageLog.objects.get()
    assert (log.status, log.dead_letter_count) == (Status.DEAD_LETTERED, 2)
    assert get_backend().dlq_depth() == 1


def test_it_audits_a_replay(make_dead_lettered, super_admin):
    make_dead_lettered(2)
    get_backend().send(["garbage"])
    sender_drain(until_empty=True)

    dlq_replay(ids=None, user=super_admin)

    event = AuditEvent.objects.get(action=AuditEvent.Action.DLQ_REPLAY)
    assert (event.actor, event.target, event.count) == (super_admin, "all", 2)
    assert event.details == {"replayed": 2, "moved_as_is": 0, "unreadable": 1, "failed": 0}


# Purge


def test_it_purges_the_whole_dlq_and_marks_the_messages_permanently_failed(
    make_dead_lettered, super_admin
):
    batch = make_dead_lettered(3)

    purged = dlq_purge(ids=None, user=super_admin)

    assert purged == 3
    assert get_backend().dlq_depth() == 0
    for log in MessageLog.objects.filter(batch=batch):
        assert log.status == Status.PERMANENTLY_FAILED
        assert log.last_error == "Purged from the dead-letter queue by super"
    assert QueueMessage.objects.count() == 0


def test_it_purges_only_the_selected_entries(make_dead_lettered, super_admin):
    batch = make_dead_lettered(3)
    first, second, third = _ids(batch)

    purged = dlq_purge(ids=[_dlq_by_message()[second]], user=super_admin)

    assert purged == 1
    assert set(_dlq_by_message()) == {first, third}
    statuses = dict(MessageLog.objects.values_list("id", "status"))
    assert statuses == {
        first: Status.DEAD_LETTERED,
        second: Status.PERMANENTLY_FAILED,
        third: Status.DEAD_LETTERED,
    }
    assert "by super" in MessageLog.objects.get(pk=second).last_error


def test_it_audits_a_purge(make_dead_lettered, super_admin):
    make_dead_lettered(2)

    dlq_purge(ids=None, user=super_admin)

    event = AuditEvent.objects.get(action=AuditEvent.Action.DLQ_PURGE)
    assert (event.actor, event.actor_name, event.target, event.count) == (
        super_admin,
        "super",
        "all",
        2,
    )


def test_a_purged_message_is_not_replayed(make_dead_lettered, super_admin):
    make_dead_lettered(1)
    dlq_purge(ids=None, user=super_admin)

    assert dlq_replay(ids=None, user=super_admin).replayed == 0
    assert MessageLog.objects.get().status == Status.PERMANENTLY_FAILED
