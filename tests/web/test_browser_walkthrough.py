"""issue 3, "Done when": an operator's first session, in a real browser.

Sign in; create a batch of 50 recipients from a CSV upload on the simulated
channel (which fails some); watch its progress bar reach the end without
reloading while a sender works beside the server; open a failure and read
its timeline; retry one failure with one click and see its row change;
bulk-retry a whole error group through the preview; replay the DLQ. A
screenshot of each page goes to the run's output directory.
"""

import re

import pytest
from playwright.sync_api import expect

from retry_admin.channels import reset_channels
from retry_admin.models import Batch, MessageLog, Status
from retry_admin.services.batches import RecipientRow, batch_create
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.browser

SLOW = 30_000  # ms: the longest wait for live updates (they poll every 2-3 s)


def _csv(count: int) -> bytes:
    rows = "".join(f"walker{i}@example.com,Walker {i}\n" for i in range(count))
    return f"recipient,name\n{rows}".encode()


def test_an_operator_walks_through_the_console(
    page, live_server, super_admin, template, failing_channel, sender, sign_in, shot, dialogs
):
    url = live_server.url
    errors: list[str] = []
    # Every console.error on every page it visits, htmx's aborted requests included.
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # Sign in
    page.goto(f"{url}/")
    expect(page).to_have_url(re.compile(r"/accounts/login/\?next=/$"))
    shot(page, "01-sign-in")
    sign_in(page, super_admin)
    expect(page.get_by_test_id("role")).to_have_text("Super Admin")
    shot(page, "02-overview-empty")

    # Create a batch of 50 from a CSV upload, on the simulated channel
    page.get_by_role("link", name="Batches", exact=True).click()
    expect(page.get_by_text("No batches yet.")).to_be_visible()
    page.get_by_test_id("new-batch").click()
    page.fill("#id_name", "First walkthrough")
    page.select_option("#id_template", label="Greeting")
    page.select_option("#id_channel", "simulated")
    page.set_input_files(
        "#id_csv_file",
        files=[{"name": "recipients.csv", "mimeType": "text/csv", "buffer": _csv(50)}],
    )
    expect(page.get_by_test_id("preview-body")).to_have_text("Hello Walker 0!")
    shot(page, "03-new-batch-with-preview")
    page.get_by_test_id("create-batch").click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    expect(page.locator(".flash-success")).to_contain_text("50 messages queued")
    summary = page.get_by_test_id("progress-summary")
    expect(summary).to_contain_text("0 of 50 done")
    batch = Batch.objects.get()
    assert batch.total == 50 and batch.channel == "simulated"

    # Watch the bar advance and reach the end, without reloading
    failing_channel.SIMULATED_LATENCY_MS = 120  # ~6 s of sending: the bar moves visibly
    reset_channels()
    page.evaluate("window.__sameDocument = true")
    sender.start()
    page.wait_for_function(
        "() => { const bar = document.querySelector('[data-testid=progress]');"
        " const done = +bar.dataset.done; return done > 0 && done < 50; }",
        timeout=SLOW,
    )
    shot(page, "04-batch-sending")
    # Nothing pending: complete, or failures waiting for the retry cycle.
    expect(summary).to_contain_text(re.compile("Complete|Waiting for retry"), timeout=SLOW)
    assert page.evaluate("window.__sameDocument") is True  # live, not reloaded
    sender.stop()
    shot(page, "05-batch-complete")
    failed = MessageLog.objects.filter(batch=batch, status=Status.PERMANENTLY_FAILED).count()
    assert failed > 1, "the simulated channel should have failed some messages for good"
    assert not MessageLog.objects.filter(batch=batch, status=Status.PENDING).exists()

    # Failures: groups, and a failure's timeline
    page.get_by_role("link", name="Failures", exact=True).click()
    expect(page.get_by_test_id("groups")).to_be_visible()
    shot(page, "06-failures")
    first = page.locator("#failure-messages tbody tr").first
    first.locator("a.recipient").click()
    timeline = page.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Created")
    expect(timeline).to_contain_text("Attempt 1: permanent failure")
    expect(timeline).to_contain_text("first send, from the batch")
    expect(page.get_by_test_id("idempotency-key")).to_have_text(re.compile(r"^[0-9a-f-]{36}$"))
    shot(page, "07-message-timeline")
    page.go_back()

    # Retry one failure with one click: its row changes in place
    row = page.locator("#failure-messages tbody tr").first
    row_id = row.get_attribute("id")
    expect(page.locator(f"#{row_id} [data-testid=status]")).to_have_text("Permanently failed")
    row.get_by_test_id("retry-one").click()
    expect(page.locator(f"#{row_id} [data-testid=status]")).to_have_text("Pending")
    expect(page.locator(f"#{row_id}")).to_contain_text("queued")
    expect(page.locator("#flash")).to_contain_text("Retry: 1 requeued.")
    shot(page, "08-retried-one")
    retried = MessageLog.objects.get(pk=row_id.removeprefix("msg-"))
    assert retried.status == Status.PENDING

    # Bulk-retry a whole error group through the preview
    page.reload()
    page.get_by_test_id("retry-group").first.click()
    panel = page.get_by_test_id("bulk-panel")
    expect(panel).to_contain_text("Messages that fail after this preview are not included.")
    previewed = int(page.get_by_test_id("preview-count").inner_text())
    assert previewed >= 1
    shot(page, "09-bulk-preview")
    page.get_by_test_id("bulk-confirm").click()
    expect(page.get_by_test_id("bulk-result")).to_contain_text(f"{previewed} requeued")
    sender.start()
    expect(page.get_by_test_id("bulk-progress")).to_contain_text("done", timeout=SLOW)
    sender.stop()
    shot(page, "10-bulk-done")

    # The DLQ, filled the way it happens: workers that crash mid-delivery
    failing_channel.QUEUE_MAX_RECEIVES = 1
    failing_channel.SIMULATED_PERMANENT_RATE = 0
    failing_channel.SIMULATED_TRANSIENT_RATE = 0
    failing_channel.SIMULATED_LATENCY_MS = 0
    reset_channels()
    crashy = batch_create(
        name="Crashing worker",
        template=template,
        recipients=[RecipientRow(i + 1, f"crash{i}@example.com", {"name": "C"}) for i in range(3)],
        channel="simulated",
        user=super_admin,
    ).batch
    assert receive_and_drop() == 3
    assert sender_drain(until_empty=True).dead_lettered == 3
    page.get_by_role("link", name="DLQ", exact=True).click()
    expect(page.get_by_test_id("dlq-count")).to_have_text("3")
    shot(page, "11-dlq")
    page.get_by_test_id("replay-all").click()
    expect(page.get_by_test_id("dlq-panel")).to_contain_text("Replay 3 messages?")
    shot(page, "12-dlq-replay-preview")
    page.get_by_test_id("replay-confirm").click()
    expect(page.get_by_test_id("dlq-result")).to_contain_text("Replayed 3 messages to the queue.")
    expect(page.locator("#dlq-table")).to_contain_text("The dead-letter queue is empty.")
    shot(page, "13-dlq-replayed")
    sender.start()
    page.goto(f"{url}/batches/{crashy.pk}/")
    expect(page.get_by_test_id("progress-summary")).to_contain_text("Complete", timeout=SLOW)
    sender.stop()
    assert set(MessageLog.objects.filter(batch=crashy).values_list("status", flat=True)) == {
        Status.SENT
    }

    # The other pages, with everything that happened
    for name, path in [
        ("14-overview", "/"),
        ("15-messages", "/messages/"),
        ("16-batches", "/batches/"),
        ("17-health", "/health/"),
    ]:
        page.goto(f"{url}{path}")
        shot(page, name)
    expect(page.get_by_test_id("audit")).to_contain_text("Replayed the DLQ")
    expect(page.get_by_test_id("audit")).to_contain_text("Retried messages")
    expect(page.get_by_test_id("audit")).to_contain_text("Created a batch")

    assert dialogs == []
    assert errors == [], errors
