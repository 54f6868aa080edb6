"""In a real browser: the panels of a page that show live work refresh
together, without a reload (a batch's errors and latest messages with its
bar; the failure groups after a bulk retry)."""

import re

import pytest
from playwright.sync_api import expect

from retry_admin.models import MessageLog, Status

pytestmark = pytest.mark.browser

SLOW = 20_000


def test_a_batch_page_refreshes_every_panel_while_it_sends(
    page, live_server, super_admin, make_batch, failing_channel, sender, sign_in
):
    batch = make_batch(20, channel="simulated")
    sign_in(page, super_admin)
    page.goto(f"{live_server.url}/batches/{batch.pk}/")
    expect(page.get_by_text("No errors so far.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    sender.start()
    expect(page.get_by_test_id("progress-summary")).to_contain_text(
        re.compile("Complete|Waiting for retry"), timeout=SLOW
    )
    expect(page.get_by_text("No errors so far.")).to_be_hidden(timeout=SLOW)
    expect(
        page.locator("#batch-live .table [data-testid=status]", has_text="Pending")
    ).to_have_count(0, timeout=SLOW)
    assert page.evaluate("window.__sameDocument") is True


def test_the_failure_groups_follow_a_bulk_retry(
    page, live_server, super_admin, make_batch, failing_channel, sign_in
):
    from retry_admin.services.sender import sender_drain

    make_batch(20, channel="simulated")
    sender_drain(until_empty=True)
    sign_in(page, super_admin)
    page.goto(f"{live_server.url}/failures/")
    groups = page.locator("#failure-groups")
    before = MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count()
    assert before > 0
    page.evaluate("window.__sameDocument = true")

    page.get_by_test_id("retry-group").first.click()
    page.get_by_test_id("bulk-confirm").click()
    expect(page.get_by_test_id("bulk-result")).to_contain_text("requeued")

    after = MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count()
    assert after < before
    expect(groups.locator("tbody td.num strong")).to_have_count(
        MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED)
        .values("error_signature")
        .distinct()
        .count(),
        timeout=SLOW,
    )
    total = sum(int(t) for t in groups.locator("tbody td.num strong").all_inner_texts())
    assert total == after
    assert page.evaluate("window.__sameDocument") is True


def test_the_failure_groups_follow_a_one_click_retry(
    page, live_server, super_admin, make_batch, failing_channel, sign_in
):
    from retry_admin.services.sender import sender_drain

    make_batch(20, channel="simulated")
    sender_drain(until_empty=True)
    before = MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count()
    sign_in(page, super_admin)
    page.goto(f"{live_server.url}/failures/")
    counts = page.locator("#failure-groups tbody td.num strong")

    def shown() -> int:
        return sum(int(t) for t in counts.all_inner_texts())

    assert shown() == before
    page.locator("#failure-messages tbody tr").first.get_by_test_id("retry-one").click()
    expect(page.locator("#flash")).to_contain_text("Retry: 1 requeued.")
    page.wait_for_function(
        f"() => [...document.querySelectorAll('#failure-groups tbody td.num strong')]"
        f".reduce((n, e) => n + +e.textContent, 0) === {before - 1}",
        timeout=SLOW,
    )
