"""Everything a page shows about live work refreshes together: a batch's
errors and latest messages with its progress bar; the failure groups after a
retry."""

import pytest
from django.utils.html import escape

from retry_admin.models import MessageLog, Status
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db


def _live(client, url: str) -> str:
    return client.get(url, HTTP_HX_REQUEST="true").content.decode()


def test_a_batch_refreshes_its_errors_and_latest_messages_with_its_progress(
    super_client, make_batch, failing_channel
):
    batch = make_batch(10, channel="simulated")
    before = _live(super_client, f"/batches/{batch.pk}/")
    sender_drain(until_empty=True)
    after = _live(super_client, f"/batches/{batch.pk}/")

    assert "Errors in this batch" in before and "No errors so far." in before
    assert "Latest messages" in before and before.count(">Pending</span>") == 10
    failed = MessageLog.objects.filter(batch=batch).exclude(status=Status.SENT)
    assert failed.exists()
    assert "No errors so far." not in after
    assert escape(failed.first().error_signature) in after
    assert ">Pending</span>" not in after
    assert after.count("every 3s") == 1  # one poll for the lot


def test_the_failure_groups_refresh_on_their_own_and_after_a_retry(
    super_client, make_batch, failing_channel
):
    make_batch(10, channel="simulated")
    sender_drain(until_empty=True)
    page = super_client.get("/failures/").content.decode()
    groups = super_client.get(
        "/failures/", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="failure-groups"
    ).content.decode()

    assert 'id="failure-groups"' in groups and "every 5s" in groups
    assert "failure-messages" not in groups  # the selections below are left alone
    assert 'hx-trigger="every 5s' in page
    assert "message-retried from:body" in page.split('id="failure-groups"')[1][:600]


def test_a_one_click_retry_tells_the_page_that_messages_changed(super_client, batch_with_failures):
    message = MessageLog.objects.filter(batch=batch_with_failures).first()

    response = super_client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true")

    assert response["HX-Trigger"] == "message-retried"
