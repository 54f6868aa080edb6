"""The DLQ as the services use it, on every transport (db, SQS via moto,
Azure via Azurite, RabbitMQ, Redis): foreign bodies moved back as they are,
and automatic reprocessing with backoff per entry."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin import selectors
from retry_admin.models import AuditEvent, MessageLog, Status
from retry_admin.selectors.dlq import AUTO_ACTOR
from retry_admin.services.dlq import NOT_IN_DLQ, Outcome, dlq_replay
from retry_admin.services.dlq_auto import dlq_auto_replay
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

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


# Automatic reprocessing


def test_automatic_reprocessing_backs_off_per_entry_then_leaves_it_for_an_admin(
    queue_backend, settings, make_dead_lettered
):
    settings.DLQ_AUTO_REPLAY = True
    settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES = 10
    settings.DLQ_AUTO_REPLAY_MAX_ATTEMPTS = 2
    foreign = _dead_lettered_with_a_foreign_body(queue_backend, make_dead_lettered)
    start = timezone.now()

    def run(minutes: float):
        return dlq_auto_replay(now=start + timedelta(minutes=minutes))

    def fail_again() -> None:  # the message goes wrong again and is dead-lettered
        assert receive_and_drop() == 2
        assert sender_drain(until_empty=True).dead_lettered == 2
        assert queue_backend.dlq_depth() == 3

    first = run(0)  # just dead-lettered: the first wait has not passed
    assert (first.replayed, first.waiting, first.foreign, first.exhausted) == (0, 2, 1, 0)

    second = run(11)
    assert (second.replayed, second.waiting, second.foreign) == (2, 0, 1)
    assert queue_backend.dlq_depth() == 1  # the foreign body stays for an admin
    assert set(MessageLog.objects.values_list("status", flat=True)) == {Status.PENDING}
    fail_again()

    assert run(11).replayed == 0  # the wait doubled: 20 minutes from the replay
    assert run(32).replayed == 2
    fail_again()

    late = run(60 * 24 * 30)
    assert (late.replayed, late.exhausted, late.foreign) == (0, 2, 1)
    entries = selectors.dlq_entries()
    assert [e.id for e in entries if e.message is None] == [foreign]
    ours = [e for e in entries if e.message is not None]
    assert [(e.auto_attempts, e.auto_next_at) for e in ours] == [(2, None), (2, None)]
    assert all(e.auto_last_at is not None for e in ours)
    assert AuditEvent.objects.filter(action="dlq_replay", target=AUTO_ACTOR, count=2).count() == 2
