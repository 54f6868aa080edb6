"""The queue contract (queues/base.py), the same tests on every backend:
db, SQS (moto) and Azure Storage Queue (Azurite)."""

import time

import pytest

from retry_admin import selectors
from retry_admin.models import MessageLog, Status
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def bodies_of(messages) -> list[str]:
    return sorted(m.body for m in messages)


def dead_letter_all(backend, bodies: list[str], reason: str = "testing") -> dict[str, str]:
    """Put ``bodies`` in the DLQ the way the sender does; returns body -> DLQ id."""
    assert all(r.ok for r in backend.send(bodies))
    received = backend.receive(len(bodies), visibility_timeout=30)
    assert len(received) == len(bodies)
    backend.dead_letter([m.handle for m in received], reason=reason)
    return {e.body: e.id for e in backend.dlq_peek(limit=len(bodies) + 10)}


# Main queue


def test_it_sends_receives_and_acks(queue_backend):
    results = queue_backend.send(["a", "b", "c"])
    assert [r.ok for r in results] == [True, True, True]
    received = queue_backend.receive(10, visibility_timeout=30)
    assert bodies_of(received) == ["a", "b", "c"]
    assert {m.receive_count for m in received} == {1}
    queue_backend.ack([m.handle for m in received])
    assert queue_backend.depth().total == 0
    assert queue_backend.receive(10, visibility_timeout=30) == []


def test_it_receives_more_than_one_call_of_the_service_returns(queue_backend):
    queue_backend.send([f"m{i}" for i in range(40)])  # SQS gives 10 a call, Azure 32
    first = queue_backend.receive(25, visibility_timeout=30)
    assert len(first) == 25
    rest = queue_backend.receive(100, visibility_timeout=30)
    assert len(rest) == 15
    assert len({m.body for m in first + rest}) == 40


def test_each_entry_gets_its_own_result_and_an_oversize_body_fails_alone(queue_backend):
    huge = "x" * (queue_backend.max_body_bytes + 1)
    results = queue_backend.send(["ok-1", huge, "ok-2"])
    assert [r.ok for r in results] == [True, False, True]
    assert "bytes" in results[1].error
    assert bodies_of(queue_backend.receive(10, visibility_timeout=30)) == ["ok-1", "ok-2"]


def test_a_received_message_is_invisible_until_released(queue_backend):
    queue_backend.send(["a"])
    [message] = queue_backend.receive(10, visibility_timeout=30)
    assert queue_backend.receive(10, visibility_timeout=30) == []
    queue_backend.release([message.handle])
    [again] = queue_backend.receive(10, visibility_timeout=30)
    assert again.body == "a"
    assert again.receive_count == 2


def test_extend_keeps_a_message_in_hand_past_its_visibility_timeout(queue_backend):
    queue_backend.send(["a", "b"])
    received = queue_backend.receive(10, visibility_timeout=1)
    handles = queue_backend.extend([m.handle for m in received], visibility_timeout=3)
    assert set(handles) == {m.handle for m in received}
    time.sleep(1.5)  # past the first timeout: still ours
    assert queue_backend.receive(10, visibility_timeout=30) == []
    queue_backend.ack(list(handles.values()))  # the handles extend returned ack it
    time.sleep(2)
    assert queue_backend.receive(10, visibility_timeout=30) == []
    assert queue_backend.depth().total == 0


def test_extend_leaves_out_a_message_that_is_no_longer_ours(queue_backend):
    queue_backend.send(["a"])
    [message] = queue_backend.receive(10, visibility_timeout=30)
    queue_backend.ack([message.handle])
    assert queue_backend.extend([message.handle], visibility_timeout=30) == {}


def test_release_with_a_delay_hides_the_message_for_that_long(queue_backend):
    queue_backend.send(["a"])
    [message] = queue_backend.receive(10, visibility_timeout=30)
    queue_backend.release([message.handle], delay_seconds=1)
    assert queue_backend.receive(10, visibility_timeout=30) == []
    time.sleep(1.5)
    assert bodies_of(queue_backend.receive(10, visibility_timeout=30)) == ["a"]


def test_a_delayed_send_becomes_visible_after_the_delay(queue_backend):
    queue_backend.send(["later"], delay_seconds=1)
    assert queue_backend.receive(10, visibility_timeout=30) == []
    assert queue_backend.depth().total == 1
    time.sleep(1.5)
    assert bodies_of(queue_backend.receive(10, visibility_timeout=30)) == ["later"]


def test_depth_counts_visible_and_in_flight(queue_backend):
    queue_backend.send(["a", "b", "c"])
    queue_backend.receive(1, visibility_timeout=30)
    depth = queue_backend.depth()
    if queue_backend.name == "azure":
        # One approximate count, invisible messages included (see azure.py).
        assert (depth.visible, depth.in_flight, depth.delayed) == (3, 0, 0)
    else:
        assert (depth.visible, depth.in_flight, depth.delayed) == (2, 1, 0)


def test_ensure_is_idempotent(queue_backend):
    queue_backend.ensure()
    queue_backend.send(["kept"])
    queue_backend.ensure()
    assert bodies_of(queue_backend.receive(10, visibility_timeout=30)) == ["kept"]


# Dead-letter queue


def test_dead_lettered_messages_leave_the_queue_and_can_be_peeked(queue_backend):
    queue_backend.send(["a", "b", "c"])
    received = {m.body: m for m in queue_backend.receive(10, visibility_timeout=30)}
    queue_backend.dead_letter([received["a"].handle, received["b"].handle], reason="too hot")
    queue_backend.ack([received["c"].handle])

    assert queue_backend.depth().total == 0
    assert queue_backend.dlq_depth() == 2
    entries = queue_backend.dlq_peek()
    assert sorted(e.body for e in entries) == ["a", "b"]
    assert all(e.dead_at is not None for e in entries)
    if queue_backend.name != "azure":  # a poison message carries no reason (azure.py)
        assert {e.reason for e in entries} == {"too hot"}
        assert {e.receive_count for e in entries} == {1}
    # Peeking changes nothing, and the ids stay the same.
    assert {e.id for e in queue_backend.dlq_peek()} == {e.id for e in entries}
    assert queue_backend.dlq_depth() == 2


def test_peek_finds_entries_by_id(queue_backend):
    ids = dead_letter_all(queue_backend, ["a", "b", "c"])
    found = queue_backend.dlq_peek(ids=[ids["b"], "no-such-id"])
    assert [e.body for e in found] == ["b"]
    assert queue_backend.dlq_depth() == 3


def test_peek_sees_past_the_azure_peek_limit_of_32(queue_backend):
    ids = dead_letter_all(queue_backend, [f"d{i}" for i in range(40)])
    assert len(ids) == 40
    assert len(queue_backend.dlq_peek(limit=5)) == 5
    assert {e.id for e in queue_backend.dlq_peek(limit=100)} == set(ids.values())
    last = ids["d39"]
    assert [e.body for e in queue_backend.dlq_peek(ids=[last])] == ["d39"]
    assert queue_backend.dlq_depth() == 40


def test_move_puts_entries_back_on_the_main_queue(queue_backend):
    ids = dead_letter_all(queue_backend, ["a", "b", "c"])
    result = queue_backend.dlq_move([ids["a"], ids["b"], "no-such-id"])
    assert sorted(result.moved) == sorted([ids["a"], ids["b"]])
    assert list(result.failed) == ["no-such-id"]
    assert queue_backend.dlq_depth() == 1
    back = queue_backend.receive(10, visibility_timeout=30)
    assert bodies_of(back) == ["a", "b"]
    assert {m.receive_count for m in back} == {1}  # a fresh start on the main queue


def test_purge_deletes_by_id_or_everything(queue_backend):
    ids = dead_letter_all(queue_backend, ["a", "b", "c"])
    assert queue_backend.dlq_purge([ids["a"]]) == 1
    assert sorted(e.body for e in queue_backend.dlq_peek()) == ["b", "c"]
    assert queue_backend.dlq_purge() == 2
    assert queue_backend.dlq_depth() == 0
    assert queue_backend.dlq_peek() == []


# The sender on each backend


def test_a_message_received_past_the_limit_lands_in_the_dlq_via_the_sender(
    queue_backend, settings, make_batch
):
    settings.QUEUE_MAX_RECEIVES = 2
    queue_backend.ensure()  # SQS: the redrive policy follows the new limit
    make_batch(1)
    for _ in range(2):  # two workers received it and died before recording anything
        [message] = queue_backend.receive(10, visibility_timeout=30)
        queue_backend.release([message.handle])
    report = sender_drain(until_empty=True)
    assert report.dead_lettered == 1
    log = MessageLog.objects.get()
    assert log.status == Status.DEAD_LETTERED
    assert "QUEUE_MAX_RECEIVES=2" in log.last_error
    assert queue_backend.dlq_depth() == 1
    assert queue_backend.depth().total == 0
    # The log says as many receives as its DLQ entry (which, on Azure, is the
    # body alone: the DLQ page takes the log's count).
    [entry] = queue_backend.dlq_peek()
    assert entry.receive_count == (0 if queue_backend.name == "azure" else 3)
    [shown] = selectors.dlq_entries()
    assert log.receive_count == shown.receive_count == 3


def test_a_sender_killed_mid_chunk_gets_its_messages_redelivered(queue_backend, make_batch):
    make_batch(3)
    killed = queue_backend.receive(10, visibility_timeout=1)  # received, never acked
    assert len(killed) == 3
    assert queue_backend.receive(10, visibility_timeout=30) == []
    time.sleep(1.5)
    report = sender_drain(until_empty=True)
    assert report.sent == 3
    assert set(MessageLog.objects.values_list("status", "receive_count")) == {(Status.SENT, 2)}
    assert queue_backend.depth().total == 0


def test_a_malformed_body_is_dead_lettered_and_reported(queue_backend, caplog):
    queue_backend.send(["this is not json"])
    report = sender_drain(until_empty=True)
    assert report.received == 1
    assert [e.body for e in queue_backend.dlq_peek()] == ["this is not json"]
    assert "not our envelope" in caplog.text
    assert queue_backend.depth().total == 0


def test_a_duplicate_envelope_is_delivered_once(queue_backend, make_batch):
    make_batch(1)
    [message] = queue_backend.receive(10, visibility_timeout=30)
    queue_backend.release([message.handle])
    queue_backend.send([message.body])  # the transport delivers it twice
    report = sender_drain(until_empty=True)
    assert (report.sent, report.skipped) == (1, 1)
    assert queue_backend.depth().total == 0
