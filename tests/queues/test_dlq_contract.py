"""The DLQ as the services use it, on every transport (db, SQS via moto,
Azure via Azurite, RabbitMQ, Redis): foreign bodies moved back as they are,
and automatic reprocessing with backoff per entry."""

import json

import pytest

from retry_admin.models import MessageLog, Status
from retry_admin.services.dlq import NOT_IN_DLQ, Outcome, dlq_replay
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db

FOREIGN = json.dumps({"event": "order.created", "order": 42})


def _dead_lettered_with_a_foreign_body(backend, make_dead_lettered) -> str:
    """Two of our messages and one foreign JSON body in the DLQ; returns the
    foreign entry's id."""
    make_dead_lettered(2)
    backend.send([FOREIGN])
    sender_drain(until_empty=True)  # the sender dead-letters what it cannot read
    [foreign] = [e for e in backend.dlq_peek() if e.body == FOREIGN]
    assert backend.dlq_depth() == 3
    return foreign.id


def test_a_foreign_body_is_left_and_reported_unless_moved_as_is(queue_backend, make_dead_lettered):
    foreign = _dead_lettered_with_a_foreign_body(queue_backend, make_dead_lettered)

    result = dlq_replay(ids=None, user=None)

    assert result.replayed == 2
    assert not result.success
    assert list(result.left) == [foreign]
    assert result.left[foreign].startswith("Not a Retry Admin envelope")
    assert [e.body for e in queue_backend.dlq_peek()] == [FOREIGN]

    again = dlq_replay(ids=None, user=None, as_is=True)

    assert again.success
    assert (again.replayed, again.moved_as_is) == (0, [foreign])
    assert again.outcomes() == [(foreign, Outcome.MOVED_AS_IS, "")]
    assert queue_backend.dlq_depth() == 0
    bodies = [m.body for m in queue_backend.receive(10, visibility_timeout=30)]
    assert len(bodies) == 3
    assert FOREIGN in bodies  # unchanged, beside our two
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PENDING}


def test_selected_entries_report_each_outcome(queue_backend, make_dead_lettered):
    foreign = _dead_lettered_with_a_foreign_body(queue_backend, make_dead_lettered)
    ours = next(e.id for e in queue_backend.dlq_peek() if e.id != foreign)

    result = dlq_replay(ids=[ours, foreign, "no-such-entry"], user=None, as_is=True)

    assert sorted(result.outcomes()) == sorted(
        [
            (ours, Outcome.REPLAYED, ""),
            (foreign, Outcome.MOVED_AS_IS, ""),
            ("no-such-entry", Outcome.LEFT, NOT_IN_DLQ),
        ]
    )
    assert not result.success
    assert queue_backend.dlq_depth() == 1
