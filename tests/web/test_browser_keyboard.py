"""issue 14: the console by keyboard alone, in a real browser.

Sign in, retry one failure, open a bulk preview and cancel it with Escape,
create a batch, replay a DLQ entry, sign out: only Tab, Enter, typing and
Escape, no mouse. After every action the test asserts where focus is (never
<body>), and that it stays on a link inside a live region across two of that
region's auto-refreshes (overview figures, batch progress)."""

import re

import pytest
from playwright.sync_api import expect

from retry_admin.models import Batch, MessageLog, Status
from retry_admin.services.sender import sender_drain
from tests.web.a11y import focused

pytestmark = pytest.mark.browser

SLOW = 20_000

# Counts htmx swaps per target id, to wait for a live region's refreshes.
COUNT_SWAPS = """() => {
  window.__swaps = {};
  document.addEventListener('htmx:afterSettle', (event) => {
    const id = event.detail.target && event.detail.target.id;
    if (id) window.__swaps[id] = (window.__swaps[id] || 0) + 1;
  });
}"""


def tab_to(page, matches, *, limit: int = 120, backwards: bool = False) -> dict:
    """Press Tab until the focused element satisfies ``matches`` (a function
    of ``focused(page)``); fails after ``limit`` presses."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
        now = focused(page)
        assert now is not None, "Tab put focus on <body>"
        if matches(now):
            return now
    raise AssertionError(f"no Tab stop matched within {limit} presses; last: {focused(page)}")


def by_id(prefix: str):
    return lambda f: f["id"].startswith(prefix)


def by_testid(testid: str):
    return lambda f: f["testid"] == testid


def by_text(text: str):
    return lambda f: f["text"] == text


def assert_focus_survives_refreshes(page, region: str, times: int = 2) -> None:
    """Focus stays on the same element while ``region`` refreshes ``times`` times."""
    before = focused(page)
    assert before is not None and before["id"], before
    page.evaluate(COUNT_SWAPS)
    page.wait_for_function(f"() => (window.__swaps['{region}'] || 0) >= {times}", timeout=SLOW)
    after = focused(page)
    assert after is not None, f"focus fell to <body> after {region} refreshed"
    assert after["id"] == before["id"], (before, after)


def test_every_journey_by_keyboard_alone(
    page, live_server, super_admin, make_batch, make_dead_lettered, failing_channel, shot
):
    url = live_server.url
    make_batch(30, channel="simulated")
    sender_drain(until_empty=True)
    make_dead_lettered(2)
    assert MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).count() >= 2

    # Sign in: the username field has focus on arrival.
    page.goto(f"{url}/accounts/login/")
    assert focused(page)["id"] == "" and page.evaluate("document.activeElement.name") == "username"
    page.keyboard.type(super_admin.get_username())
    page.keyboard.press("Tab")
    page.keyboard.type(f"pw-{super_admin.get_username()}")
    page.keyboard.press("Enter")
    page.wait_for_url(f"{url}/")
    # The overview opens with focus on the greeting, not <body>.
    assert "Signed in as super" in focused(page)["text"]

    # Focus on a figure of the overview stays there while it refreshes.
    tab_to(page, by_id("stat-queue"))
    assert_focus_survives_refreshes(page, "stats")
    shot(page, "keyboard-01-overview")

    # Retry one failure from the failures page, with one key.
    tab_to(page, by_text("Failures"), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/failures/$"))
    row = tab_to(page, by_testid("retry-one"))
    message_id = row["id"].removeprefix("msg-").removesuffix("-retry")
    page.keyboard.press("Enter")
    expect(page.locator("#flash")).to_contain_text("requeued")
    now = focused(page)
    assert now is not None, "the retried row's button went, and focus with it"
    assert now["id"] == f"msg-{message_id}-open", now  # the same row's link
    assert MessageLog.objects.get(pk=message_id).status == Status.PENDING

    # A bulk preview is a dialog: it takes focus; Escape closes it and gives
    # focus back to the button that opened it.
    trigger = tab_to(page, by_testid("retry-group"), backwards=True)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_have_accessible_name(re.compile(r"^Retry \d+ messages?\?$"))
    expect(dialog).to_be_focused()
    shot(page, "keyboard-02-bulk-preview")
    page.keyboard.press("Tab")
    assert focused(page)["inDialog"], focused(page)
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    assert focused(page)["id"] == trigger["id"], (trigger, focused(page))

    # Create a batch.
    tab_to(page, by_text("Batches"), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/batches/$"))
    # On a page opened from the nav, the first Tab stop is the skip link,
    # which takes focus into <main>, past the nav.
    first = tab_to(page, lambda f: True, limit=1)
    assert first["text"] == "Skip to content", first
    page.keyboard.press("Enter")
    assert focused(page)["tag"] == "main"
    tab_to(page, by_testid("new-batch"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/batches/new/$"))
    tab_to(page, by_id("id_name"))
    page.keyboard.type("Keyboard batch")
    tab_to(page, by_id("id_template"))
    page.keyboard.type("Greeting")
    tab_to(page, by_id("id_recipients"))
    page.keyboard.type("recipient,name")
    page.keyboard.press("Enter")
    page.keyboard.type("kb@example.com,Kay")
    expect(page.get_by_test_id("preview-body")).to_have_text("Hello Kay!")
    tab_to(page, by_testid("create-batch"))
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    batch = Batch.objects.get(name="Keyboard batch")
    # The outcome (the flash) has focus.
    assert f"Batch #{batch.pk} created" in focused(page)["text"], focused(page)

    # Focus on a link of the batch's live progress stays put while it refreshes.
    tab_to(page, by_id("legend-"))
    assert_focus_survives_refreshes(page, "batch-live")
    shot(page, "keyboard-03-batch")
    assert batch.total == 1

    # Replay one DLQ entry: the outcome takes focus, and the next Tab stays
    # on the page (the Close button), then Close puts focus back in the page.
    tab_to(page, by_text("DLQ"), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/dlq/$"))
    tab_to(page, by_testid("replay-one"))
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("dlq-result")).to_be_visible()
    assert focused(page)["role"] == "dialog", focused(page)
    page.keyboard.press("Tab")
    close = focused(page)
    assert close is not None and close["inDialog"] and close["text"] == "Close", close
    shot(page, "keyboard-04-dlq-replayed")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("dlq-panel")).to_have_count(0)
    now = focused(page)
    assert now is not None and not now["inDialog"], now

    # Sign out: back on the sign-in page with focus in the username field.
    tab_to(page, by_text("Sign out"), backwards=True)
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/accounts/login/"))
    assert page.evaluate("document.activeElement.name") == "username"
