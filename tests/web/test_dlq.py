"""The DLQ page: entries, replay one / selected / all with a preview, purge
with a typed word (Super Admin only), poison loops flagged."""

import re

import pytest

from retry_admin.models import AuditEvent, MessageLog, Status
from retry_admin.queues import get_backend
from retry_admin.services.dlq import dlq_replay
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.django_db


def _dlq_ids() -> list[str]:
    return [entry.id for entry in get_backend().dlq_peek()]


def test_it_lists_what_is_in_the_dlq(super_client, make_dead_lettered):
    batch = make_dead_lettered(3)

    html = super_client.get("/dlq/").content.decode()

    assert 'data-testid="dlq-count">3<' in html
    for message in MessageLog.objects.filter(batch=batch):
        assert message.recipient in html and str(message.pk) in html
    assert "Received more than QUEUE_MAX_RECEIVES=1 times" in html
    assert "&quot;message_id&quot;" in html  # the body, escaped


def test_an_empty_dlq_says_so(super_client):
    assert "The dead-letter queue is empty." in super_client.get("/dlq/").content.decode()


def test_replay_all_previews_the_count_then_replays_exactly_that(super_client, make_dead_lettered):
    make_dead_lettered(3)

    preview = super_client.post("/dlq/preview/", {"scope": "all"}).content.decode()
    assert "Replay 3 messages?" in preview
    count = re.search(r'name="count" value="(\d+)"', preview).group(1)
    response = super_client.post("/dlq/replay/", {"scope": "all", "count": count})

    assert "Replayed 3 messages to the queue." in response.content.decode()
    assert response["HX-Trigger"] == "dlq-changed"
    assert get_backend().dlq_depth() == 0
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 3
    assert AuditEvent.objects.filter(action="dlq_replay", count=3).exists()


def test_replay_one_and_replay_selected(super_client, make_dead_lettered):
    make_dead_lettered(3)
    first, second, third = _dlq_ids()

    one = super_client.post("/dlq/replay/", {"ids": first}).content.decode()
    preview = super_client.post("/dlq/preview/", {"ids": [second, "bogus id!"]}).content.decode()
    selected = super_client.post("/dlq/replay/", {"ids": [second]}).content.decode()

    assert "Replayed 1 message to the queue." in one
    assert "Replay 1 message?" in preview
    assert "Replayed 1 message to the queue." in selected
    assert _dlq_ids() == [third]


def test_a_message_back_in_the_dlq_after_a_replay_is_a_poison_loop(
    super_client, super_admin, make_dead_lettered
):
    make_dead_lettered(1)
    dlq_replay(ids=None, user=super_admin)
    assert receive_and_drop() == 1
    sender_drain(until_empty=True)  # received twice again: back in the DLQ

    html = super_client.get("/dlq/").content.decode()

    assert "poison loop \u00d72" in html  # x2
    assert "1 poison loop" in html


def test_purge_needs_the_typed_word(super_client, make_dead_lettered):
    make_dead_lettered(2)

    preview = super_client.post("/dlq/preview/", {"scope": "all", "purge": "1"}).content.decode()
    wrong = super_client.post(
        "/dlq/purge/", {"scope": "all", "confirm": "purge please"}, HTTP_HX_REQUEST="true"
    )
    right = super_client.post("/dlq/purge/", {"scope": "all", "confirm": "PURGE"})

    assert "Purge 2 entries for good?" in preview
    assert wrong.status_code == 400
    assert "Type PURGE to confirm. Nothing was deleted." in wrong.content.decode()
    assert "Purged 2 entries" in right.content.decode()
    assert get_backend().dlq_depth() == 0
    assert MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count() == 2


def test_purge_selected_needs_a_selection(super_client, make_dead_lettered):
    make_dead_lettered(2)
    first, second = _dlq_ids()

    none = super_client.post("/dlq/purge/", {"scope": "selected", "confirm": "PURGE"})
    one = super_client.post("/dlq/purge/", {"ids": [first], "confirm": "PURGE"})

    assert none.status_code == 400
    assert "Purged 1 entry; its message is now permanently failed." in one.content.decode()
    assert _dlq_ids() == [second]


def test_the_purged_message_timeline_says_who(super_client, make_dead_lettered):
    batch = make_dead_lettered(1)
    super_client.post("/dlq/purge/", {"scope": "all", "confirm": "PURGE"})
    message = MessageLog.objects.get(batch=batch)

    html = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert "Purged from the dead-letter queue" in html and "by super" in html


def test_the_previews_name_each_entry_s_recipient(super_client, make_dead_lettered):
    batch = make_dead_lettered(2)

    replay = super_client.post("/dlq/preview/", {"scope": "all"}).content.decode()
    purge = super_client.post("/dlq/preview/", {"scope": "all", "purge": "1"}).content.decode()

    for message in MessageLog.objects.filter(batch=batch):
        assert message.recipient in replay and message.recipient in purge


def test_a_wrong_word_keeps_the_purge_form_and_says_what_to_type(super_client, make_dead_lettered):
    make_dead_lettered(2)

    preview = super_client.post("/dlq/preview/", {"scope": "all", "purge": "1"}).content.decode()
    wrong = super_client.post(
        "/dlq/purge/", {"scope": "all", "confirm": "purge"}, HTTP_HX_REQUEST="true"
    ).content.decode()

    # Ours, not the browser's generic "Please match the requested format".
    assert "pattern=" not in preview and "required" not in preview.split('name="confirm"')[1][:80]
    assert '<span class="nowrap">Type <strong>PURGE</strong> to confirm</span>' in preview
    assert "“purge” is not PURGE: type PURGE in capitals to confirm. Nothing was deleted." in wrong
    assert 'data-testid="purge-confirm"' in wrong  # the form is still there to try again
    assert get_backend().dlq_depth() == 2


# Foreign bodies


def _foreign_in_the_dlq(make_dead_lettered) -> str:
    make_dead_lettered(1)
    backend = get_backend()
    backend.send(['{"event": "order.created"}'])
    sender_drain(until_empty=True)  # the sender dead-letters what it cannot read
    return next(e.id for e in backend.dlq_peek() if e.body.startswith('{"event"'))


def test_a_replay_reports_each_entry_and_a_foreign_body_left_behind(
    super_client, make_dead_lettered
):
    foreign = _foreign_in_the_dlq(make_dead_lettered)

    preview = super_client.post("/dlq/preview/", {"scope": "all"}).content.decode()
    html = super_client.post("/dlq/replay/", {"scope": "all", "count": "2"}).content.decode()

    assert 'name="as_is"' in preview  # offered: there may be foreign bodies
    assert "Replayed 1 message to the queue. 1 stayed in the DLQ." in html
    assert "flash-warning" in html
    assert re.search(rf"{foreign}</td><td>left</td><td[^>]*>Not a Retry Admin envelope", html)
    assert "<td>replayed</td>" in html
    assert _dlq_ids() == [foreign]


def test_move_back_as_is_from_the_preview(super_client, make_dead_lettered):
    foreign = _foreign_in_the_dlq(make_dead_lettered)

    preview = super_client.post("/dlq/preview/", {"ids": [foreign]}).content.decode()
    html = super_client.post("/dlq/replay/", {"ids": [foreign], "as_is": "1"}).content.decode()

    assert 'for="dlq-as-is"' in preview  # a labelled checkbox
    assert "Moved 1 foreign body back as-is." in html
    assert f"{foreign}</td><td>moved as-is</td>" in html
    assert foreign not in _dlq_ids()
    assert MessageLog.objects.get().status == Status.DEAD_LETTERED  # ours was not asked for


def test_a_preview_of_our_envelopes_only_does_not_offer_as_is(super_client, make_dead_lettered):
    make_dead_lettered(1)
    preview = super_client.post("/dlq/preview/", {"ids": _dlq_ids()}).content.decode()
    assert 'name="as_is"' not in preview
