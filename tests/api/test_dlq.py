"""GET /api/dlq/, POST /api/dlq/replay, DELETE /api/dlq/ (Super Admin only)."""

import pytest

from retry_admin.models import AuditEvent, MessageLog, QueueMessage, Status
from retry_admin.queues import get_backend, reset_backends
from retry_admin.services.dlq_auto import dlq_auto_replay
from retry_admin.services.sender import sender_drain
from tests.api.conftest import assert_error, dlq_ids
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.django_db

URL = "/api/dlq/"
REPLAY = "/api/dlq/replay"


def _statuses(batch) -> set[str]:
    return set(MessageLog.objects.filter(batch=batch).values_list("status", flat=True))


# Listing


def test_it_lists_dlq_entries_with_their_messages(as_viewer, make_dead_lettered):
    batch = make_dead_lettered(2)
    get_backend().send(["not an envelope"])
    QueueMessage.objects.filter(body="not an envelope").update(dead=True)

    response = as_viewer.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    first, _, junk = body["results"]
    assert first["readable"] is True
    assert first["poison_loop"] is False
    assert first["message"]["batch"] == batch.pk
    assert first["message"]["status"] == "dead_lettered"
    assert "QUEUE_MAX_RECEIVES" in first["reason"]
    assert (junk["readable"], junk["message"], junk["body"]) == (False, None, "not an envelope")


def test_it_limits_the_dlq_list(as_viewer, make_dead_lettered):
    make_dead_lettered(3)
    assert as_viewer.get(URL, {"limit": 2}).json()["count"] == 2
    assert_error(as_viewer.get(URL, {"limit": "lots"}), 400, "limit")


def test_it_answers_503_when_the_queue_is_unreachable(as_viewer, settings):
    settings.QUEUE_BACKEND = "no-such-backend"
    reset_backends()
    assert_error(as_viewer.get(URL), 503, "queue is unavailable")


# Replay


def test_it_replays_chosen_entries(as_system, system_admin, make_dead_lettered):
    batch = make_dead_lettered(3)
    first, *rest = dlq_ids()

    response = as_system.post(REPLAY, {"ids": [first]}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert (body["replayed"], body["unreadable"], body["failed"]) == (1, {}, {})
    assert dlq_ids() == rest
    assert _statuses(batch) == {Status.PENDING, Status.DEAD_LETTERED}
    assert AuditEvent.objects.filter(action="dlq_replay", actor=system_admin).exists()


def test_it_replays_an_entry_listed_twice_once(as_system, make_dead_lettered):
    make_dead_lettered(2)
    first, second = dlq_ids()

    body = as_system.post(REPLAY, {"ids": [first, first]}, format="json").json()

    assert (body["replayed"], body["failed"]) == (1, {})
    assert dlq_ids() == [second]


def test_it_replays_the_whole_dlq(as_super, make_dead_lettered):
    batch = make_dead_lettered(3)

    body = as_super.post(REPLAY, {"all": True}, format="json").json()

    assert body["replayed"] == 3
    assert dlq_ids() == []
    assert _statuses(batch) == {Status.PENDING}


def _with_a_foreign_body(make_dead_lettered) -> str:
    """Two of our messages and a foreign JSON body in the DLQ; its entry id."""
    make_dead_lettered(2)
    backend = get_backend()
    backend.send(['{"event": "order.created"}'])
    QueueMessage.objects.filter(body__startswith='{"event"').update(dead=True)
    return next(e.id for e in backend.dlq_peek() if e.body.startswith('{"event"'))


def test_a_replay_that_leaves_a_foreign_body_behind_is_not_a_success(as_super, make_dead_lettered):
    foreign = _with_a_foreign_body(make_dead_lettered)

    body = as_super.post(REPLAY, {"all": True}, format="json").json()

    assert body["success"] is False
    assert (body["replayed"], body["moved_as_is"], body["left"]) == (2, 0, 1)
    assert "1 entry left" in body["message"]
    left = [r for r in body["results"] if r["outcome"] == "left"]
    assert left == [{"id": foreign, "outcome": "left", "reason": body["unreadable"][foreign]}]
    assert left[0]["reason"].startswith("Not a Retry Admin envelope")
    assert [r["outcome"] for r in body["results"]].count("replayed") == 2
    assert dlq_ids() == [foreign]


def test_as_is_moves_a_foreign_body_back_unchanged(as_super, make_dead_lettered):
    foreign = _with_a_foreign_body(make_dead_lettered)

    body = as_super.post(REPLAY, {"ids": [foreign], "as_is": True}, format="json").json()

    assert body["success"] is True
    assert (body["replayed"], body["moved_as_is"], body["left"]) == (0, 1, 0)
    assert body["results"] == [{"id": foreign, "outcome": "moved_as_is", "reason": ""}]
    assert dlq_ids() != [] and foreign not in dlq_ids()
    back = QueueMessage.objects.get(dead=False)
    assert back.body == '{"event": "order.created"}'
    assert _statuses_all() == {Status.DEAD_LETTERED}  # our two were not asked for


def _statuses_all() -> set[str]:
    return set(MessageLog.objects.values_list("status", flat=True))


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({}, "either"),
        ({"all": False}, "either"),
        ({"ids": ["1"], "all": True}, "either"),
        ({"ids": []}, "ids"),
        ({"ids": "1"}, "ids"),
        ({"all": True, "as_is": "sometimes"}, "as_is"),
    ],
)
def test_it_refuses_a_bad_replay_request(as_super, make_dead_lettered, payload, fragment):
    make_dead_lettered(1)
    assert_error(as_super.post(REPLAY, payload, format="json"), 400, fragment)
    assert len(dlq_ids()) == 1


def test_an_unknown_entry_refuses_the_whole_replay(as_super, make_dead_lettered):
    batch = make_dead_lettered(2)
    ids = dlq_ids()

    assert_error(as_super.post(REPLAY, {"ids": [*ids, "999999"]}, format="json"), 400, "999999")

    assert dlq_ids() == ids
    assert _statuses(batch) == {Status.DEAD_LETTERED}


def test_a_viewer_cannot_replay(as_viewer, anonymous, make_dead_lettered):
    make_dead_lettered(1)
    assert_error(as_viewer.post(REPLAY, {"all": True}, format="json"), 403)
    assert_error(anonymous.post(REPLAY, {"all": True}, format="json"), 401)
    assert len(dlq_ids()) == 1


# Purge


def test_a_super_admin_purges_the_dlq_with_confirmation_in_the_query(
    as_super, super_admin, make_dead_lettered
):
    batch = make_dead_lettered(2)

    response = as_super.delete(f"{URL}?confirm=purge")

    assert response.status_code == 200
    body = response.json()
    assert (body["success"], body["purged"]) == (True, 2)
    assert body["message"] == "Purged 2 entries from the dead-letter queue"
    assert dlq_ids() == []
    assert _statuses(batch) == {Status.PERMANENTLY_FAILED}
    assert "Purged from the dead-letter queue by super" in set(
        MessageLog.objects.values_list("last_error", flat=True)
    )
    assert AuditEvent.objects.filter(action="dlq_purge", actor=super_admin).exists()


def test_it_purges_chosen_entries_with_confirmation_in_the_body(as_super, make_dead_lettered):
    batch = make_dead_lettered(3)
    first, *rest = dlq_ids()

    body = as_super.delete(URL, {"confirm": "purge", "ids": [first]}, format="json").json()

    assert body["purged"] == 1
    assert dlq_ids() == rest
    assert _statuses(batch) == {Status.PERMANENTLY_FAILED, Status.DEAD_LETTERED}


def test_it_purges_chosen_entries_named_in_the_query(as_super, make_dead_lettered):
    make_dead_lettered(3)
    first, second, third = dlq_ids()

    body = as_super.delete(f"{URL}?confirm=purge&ids={first}&ids={second}").json()

    assert body["purged"] == 2
    assert dlq_ids() == [third]


@pytest.mark.parametrize("suffix", ["", "?confirm=yes", "?confirm="])
def test_a_stray_delete_cannot_empty_the_dlq(as_super, make_dead_lettered, suffix):
    batch = make_dead_lettered(2)

    assert_error(as_super.delete(f"{URL}{suffix}"), 400, "confirm")

    assert len(dlq_ids()) == 2
    assert _statuses(batch) == {Status.DEAD_LETTERED}


def test_an_unknown_entry_refuses_the_whole_purge(as_super, make_dead_lettered):
    make_dead_lettered(2)
    ids = dlq_ids()

    response = as_super.delete(URL, {"confirm": "purge", "ids": [ids[0], "424242"]}, format="json")

    assert_error(response, 400, "424242")
    assert dlq_ids() == ids


def test_only_a_super_admin_may_purge(as_system, as_viewer, anonymous, make_dead_lettered):
    make_dead_lettered(1)
    assert_error(as_system.delete(f"{URL}?confirm=purge"), 403, "Only Super Admin")
    assert_error(as_viewer.delete(f"{URL}?confirm=purge"), 403)
    assert_error(anonymous.delete(f"{URL}?confirm=purge"), 401)
    assert len(dlq_ids()) == 1


def test_a_purge_refuses_unknown_parameters(as_super, make_dead_lettered):
    make_dead_lettered(1)
    assert_error(as_super.delete(f"{URL}?confirm=purge&id=1"), 400, "id: Unknown parameter")
    assert len(dlq_ids()) == 1


@pytest.mark.parametrize("odd_id", ["²", "٣", "99999999999999999999999", "-1", "1.0"])
def test_odd_entry_ids_are_unknown_ids_not_server_errors(as_super, make_dead_lettered, odd_id):
    make_dead_lettered(1)
    [real] = dlq_ids()

    replay = as_super.post(REPLAY, {"ids": [real, odd_id]}, format="json")
    purge = as_super.delete(URL, {"confirm": "purge", "ids": [real, odd_id]}, format="json")

    assert_error(replay, 400, "Not in the dead-letter queue")
    assert_error(purge, 400, "Not in the dead-letter queue")
    assert dlq_ids() == [real]


def test_each_entry_says_its_automatic_replays(as_viewer, settings, make_dead_lettered):
    make_dead_lettered(1)
    [entry] = as_viewer.get(URL).json()["results"]
    assert (entry["auto_attempts"], entry["auto_next_at"]) == (0, None)  # off

    settings.DLQ_AUTO_REPLAY = True
    settings.DLQ_AUTO_REPLAY_BACKOFF_MINUTES = 0
    settings.DLQ_AUTO_REPLAY_MAX_ATTEMPTS = 2
    assert dlq_auto_replay().replayed == 1
    receive_and_drop()
    sender_drain(until_empty=True)  # back in the DLQ

    [entry] = as_viewer.get(URL).json()["results"]
    assert entry["auto_attempts"] == 1
    assert entry["auto_next_at"] is not None
