"""The messages list (filters in the URL, keyset pages), a message's
timeline and body, and one-click retry that updates the row in place."""

from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.channels import reset_channels
from retry_admin.models import AuditEvent, MessageEvent, MessageLog, Status, Template
from retry_admin.services.dlq import dlq_replay
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _ids(html: str, batch) -> list[str]:
    return [
        str(pk)
        for pk in MessageLog.objects.filter(batch=batch).values_list("id", flat=True)
        if str(pk) in html
    ]


# The list


def test_filters_live_in_the_url_and_narrow_the_list(super_client, batch_with_failures, make_batch):
    other = make_batch(3, name="Other")

    failed = super_client.get("/messages/?status=failed").content.decode()
    by_batch = super_client.get(f"/messages/?batch={other.pk}").content.decode()
    by_recipient = super_client.get("/messages/?recipient=user1").content.decode()

    assert len(_ids(failed, batch_with_failures)) == 4 and not _ids(failed, other)
    assert len(_ids(by_batch, other)) == 3 and not _ids(by_batch, batch_with_failures)
    assert len(_ids(by_recipient, other)) == 1  # user1@ in each batch
    assert 'value="failed" selected' in failed  # the form shows the filter in use


def test_error_and_date_filters(super_client, batch_with_failures):
    signature = "Upstream gateway timeout after <n> ms"
    MessageLog.objects.update(error_signature=signature)
    today = timezone.localdate()

    matching = super_client.get("/messages/", {"error": signature, "created_from": today})
    yesterday = super_client.get("/messages/", {"created_to": today - timedelta(days=1)})

    assert len(_ids(matching.content.decode(), batch_with_failures)) == 4
    assert "No messages match this filter." in yesterday.content.decode()


def test_a_bad_filter_is_explained_not_ignored(super_client, batch_with_failures):
    response = super_client.get("/messages/?status=lost&created_from=yesterday")

    html = response.content.decode()
    assert "This filter cannot be used" in html
    assert "Unknown status" in html and "is not a date" in html
    assert not _ids(html, batch_with_failures)


def test_keyset_pages_walk_older_and_back(super_client, make_batch):
    batch = make_batch(120)

    first = super_client.get("/messages/")
    page1 = first.context["page"]
    second = super_client.get(f"/messages/?after={page1.next_cursor}").context["page"]
    third = super_client.get(f"/messages/?after={second.next_cursor}").context["page"]
    back = super_client.get(f"/messages/?before={second.prev_cursor}").context["page"]

    seen = [m.pk for p in (page1, second, third) for m in p.items]
    assert len(seen) == 120 == len(set(seen))
    assert seen == sorted(seen, reverse=True)
    assert third.next_cursor is None
    assert [m.pk for m in back.items] == [m.pk for m in page1.items]
    assert MessageLog.objects.filter(batch=batch).count() == 120


def test_a_malformed_cursor_is_an_error_message(super_client):
    html = super_client.get("/messages/?after=not-a-cursor").content.decode()

    assert "Malformed page cursor" in html


def test_the_empty_state_says_what_to_do(super_client):
    html = super_client.get("/messages/").content.decode()

    assert "No messages yet." in html


# One message


def test_the_timeline_tells_the_whole_story(super_client, super_admin, make_batch, settings):
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    reset_channels()
    batch = make_batch(1, channel="simulated")
    message = MessageLog.objects.get(batch=batch)
    sender_drain(until_empty=True)  # attempt 1: transient
    MessageLog.objects.update(updated_at=timezone.now() - timedelta(hours=3))
    run = retry_cycle_run(trigger="command")
    sender_drain(until_empty=True)  # attempt 2: transient again
    settings.SIMULATED_TRANSIENT_RATE = 0.0
    reset_channels()
    super_client.post(f"/messages/{message.pk}/retry/")
    sender_drain(until_empty=True)  # attempt 3: sent

    response = super_client.get(f"/messages/{message.pk}/")

    titles = [entry.title for entry in response.context["timeline"]]
    assert titles == [
        "Created",
        "Attempt 1: transient failure",
        "Requeued by the retry cycle",
        "Attempt 2: transient failure",
        "Manual retry",
        "Retried messages",
        "Attempt 3: sent",
    ]
    html = response.content.decode()
    assert f"retry run {run.pk}" in html
    assert "first send, from the batch" in html
    assert "sent again by the scheduled retry cycle" in html
    assert "sent again after a manual retry" in html
    assert "by super" in html
    assert str(message.pk) in html and "Idempotency key" in html
    assert "Hello N0!" in html  # the rendered body


def test_the_timeline_shows_dead_lettering_and_the_replay(
    super_client, super_admin, make_dead_lettered
):
    batch = make_dead_lettered(1)
    message = MessageLog.objects.get(batch=batch)

    in_dlq = super_client.get(f"/messages/{message.pk}/").content.decode()
    dlq_replay(ids=None, user=super_admin)
    replayed = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert "Moved to the dead-letter queue" in in_dlq
    assert "In the dead-letter queue now" in in_dlq
    assert "Received more than QUEUE_MAX_RECEIVES=1" in in_dlq
    assert "Replayed from the dead-letter queue" in replayed
    assert "by super" in replayed
    assert MessageEvent.objects.filter(message=message).count() == 2


def test_a_deleted_template_or_missing_value_is_explained(super_client, make_batch, template):
    batch = make_batch(1)
    message = MessageLog.objects.get(batch=batch)
    MessageLog.objects.update(context={})
    missing_value = super_client.get(f"/messages/{message.pk}/").content.decode()
    Template.objects.all().delete()
    deleted = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert "placeholder &#x27;name&#x27; has no value" in missing_value
    assert "template was deleted" in deleted


def test_an_unknown_message_is_404(super_client):
    response = super_client.get("/messages/01890000-0000-7000-8000-000000000000/")

    assert response.status_code == 404


def test_the_detail_refreshes_itself_only_while_pending(
    super_client, make_batch, batch_with_failures
):
    make_batch(1, name="Fresh")
    pending = MessageLog.objects.filter(status=Status.PENDING).first()
    failed = MessageLog.objects.filter(status=Status.FAILED).first()

    live = super_client.get(f"/messages/{pending.pk}/").content.decode()
    still = super_client.get(f"/messages/{failed.pk}/").content.decode()

    assert 'hx-trigger="every 3s' in live
    assert 'hx-trigger="every 3s' not in still
    assert "Retry 1 of 3 is due from" in still


# Retry


def test_one_click_retry_returns_the_changed_row(super_client, batch_with_failures):
    message = MessageLog.objects.filter(batch=batch_with_failures).first()

    response = super_client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true")

    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="msg-{message.pk}"')
    assert ">Pending<" in html and "queued" in html
    assert "Retry: 1 requeued." in html  # the flash, out of band
    message.refresh_from_db()
    assert message.status == Status.PENDING
    assert AuditEvent.objects.filter(target=str(message.pk)).count() == 1


def test_a_double_click_retries_once(super_client, batch_with_failures):
    message = MessageLog.objects.filter(batch=batch_with_failures).first()

    super_client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true")
    second = super_client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true")

    assert "1 already queued (nothing to do)" in second.content.decode()
    assert MessageEvent.objects.filter(message=message, kind="manual_retry").count() == 1


def test_retry_from_the_detail_page_redirects_back(super_client, batch_with_failures):
    message = MessageLog.objects.filter(batch=batch_with_failures).first()

    response = super_client.post(f"/messages/{message.pk}/retry/", follow=True)

    assert response.redirect_chain[-1][0] == f"/messages/{message.pk}/"
    assert "Retry: 1 requeued." in response.content.decode()


def test_retry_selected_updates_each_row_out_of_band(super_client, batch_with_failures):
    ids = [str(pk) for pk in MessageLog.objects.values_list("id", flat=True)[:2]]

    response = super_client.post(
        "/messages/retry/", {"ids": [*ids, "junk"]}, HTTP_HX_REQUEST="true"
    )

    html = response.content.decode()
    for pk in ids:
        assert f'<template><tr id="msg-{pk}" class="row-pending" hx-swap-oob="true">' in html
    assert "Retry: 2 requeued." in html
    assert MessageLog.objects.filter(status=Status.PENDING).count() == 2


def test_retry_selected_with_nothing_selected_says_so(super_client):
    response = super_client.post("/messages/retry/", {}, HTTP_HX_REQUEST="true")

    assert "Select at least one message." in response.content.decode()


def test_a_recipient_prefix_matching_too_many_asks_for_more(super_client, make_batch, monkeypatch):
    monkeypatch.setattr("retry_admin.selectors.messages.RECIPIENT_MATCH_LIMIT", 3)
    batch = make_batch(5)

    broad = super_client.get("/messages/?recipient=user").content.decode()
    narrow = super_client.get("/messages/?recipient=user4@").content.decode()

    assert "More than 3 messages start with “user”: type more of the address." in broad
    assert not _ids(broad, batch)
    assert len(_ids(narrow, batch)) == 1
