"""Purging the DLQ in the browser: only with the typed word, then gone."""

import pytest
from playwright.sync_api import expect

from retry_admin.models import MessageLog, Status
from retry_admin.queues import get_backend

pytestmark = pytest.mark.browser


def test_purge_needs_the_word_typed(
    page, live_server, super_admin, make_dead_lettered, sign_in, shot
):
    make_dead_lettered(2)
    sign_in(page, super_admin)
    page.goto(f"{live_server.url}/dlq/")

    page.get_by_test_id("purge-all").click()
    expect(page.get_by_test_id("dlq-panel")).to_contain_text("Purge 2 entries for good?")
    page.get_by_test_id("purge-confirm").fill("purge")
    page.get_by_test_id("purge-submit").click()
    page.wait_for_timeout(500)
    assert get_backend().dlq_depth() == 2  # the browser would not send it
    shot(page, "purge-preview")

    page.get_by_test_id("purge-confirm").fill("PURGE")
    page.get_by_test_id("purge-submit").click()

    expect(page.get_by_test_id("dlq-result")).to_contain_text("Purged 2 entries")
    expect(page.locator("#dlq-table")).to_contain_text("The dead-letter queue is empty.")
    assert MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count() == 2
    shot(page, "purged")
