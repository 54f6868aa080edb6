"""issue 14: axe-core finds no serious or critical WCAG 2.1 A/AA violation on
any page of the console or in any panel state (bulk preview and result, DLQ
replay and purge previews, the purge's wrong word, the batch form with
errors, a failed sign-in, the no-access page).

The pages are found, not listed: the test follows every console link from
the overview (the main nav, tabs, pagers, rows), one page per URL name (every
tab of a tab bar), and checks that every URL of retry_admin/web/urls.py that
serves a page was reached, so a page added later is covered or fails here."""

import json
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import expect

from retry_admin.models import MessageLog, Status
from retry_admin.services.sender import sender_drain
from tests.web.a11y import (
    axe_source,
    axe_violations,
    crawl,
    describe,
    panel_states,
    serious,
    unreached_pages,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def world(super_admin, make_batch, make_dead_lettered, failing_channel):
    """Something on every page: a sent batch with every kind of failure,
    dead letters, the schedules, a retry cycle's run and audit rows."""
    call_command("setup_retry_admin", verbosity=0)
    # Outcomes are random by message id: with 40 messages at a 25% permanent
    # rate, none fails permanently once in 100,000 runs (with 16, once in 100).
    make_batch(40, channel="simulated")
    sender_drain(until_empty=True)
    make_dead_lettered(3)
    assert MessageLog.objects.filter(status=Status.PERMANENTLY_FAILED).exists()


def test_axe_finds_no_serious_violation_on_any_page_or_panel(
    page, live_server, super_admin, django_user_model, world, sign_in, shot, output_path
):
    source = axe_source()
    origin = live_server.url
    found: dict[str, list[dict]] = {}

    def check(label: str) -> None:
        page.wait_for_load_state("networkidle")
        violations = axe_violations(page, source)
        found[label] = violations
        shot(page, "a11y-" + "".join(c if c.isalnum() else "-" for c in label).strip("-"))

    # Signed out: the sign-in page, clean and with a refused password.
    page.goto(f"{origin}/accounts/login/")
    check("sign-in")
    page.fill("input[name=username]", super_admin.get_username())
    page.fill("input[name=password]", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".form-error")).to_be_visible()
    check("sign-in refused")

    # Every console page, found by following links.
    sign_in(page, super_admin)
    seen_names = crawl(page, origin, check)
    assert unreached_pages(seen_names, super_admin) == set(), "console pages no link reaches"

    # Every panel state: bulk retry, DLQ replay and purge, forms refused.
    panel_states(page, origin, check)

    # An account without access.
    nobody = django_user_model.objects.create_user(username="nobody", password="pw-nobody")
    page.context.clear_cookies()
    sign_in_as_nobody = f"{origin}/accounts/login/"
    page.goto(sign_in_as_nobody)
    page.fill("input[name=username]", nobody.get_username())
    page.fill("input[name=password]", "pw-nobody")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("No access")
    check("no access")

    # Everything axe said (moderate and minor too) beside the screenshots.
    (Path(output_path) / "axe.json").write_text(json.dumps(found, indent=1))
    failing = {label: serious(v) for label, v in found.items() if serious(v)}
    assert failing == {}, describe(failing)


def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+(?:\.\d+)?", css)[:3])
    return sum(
        w * (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        for w, c in zip((0.2126, 0.7152, 0.0722), (r, g, b), strict=True)
    )


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two CSS rgb() colours."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_focus_outlines_field_borders_and_bar_segments_stand_out_3_to_1(
    page, live_server, super_admin, world, sign_in
):
    """What axe does not measure (WCAG 1.4.11, non-text contrast): the focus
    outline of a field and a button, a field's border, each segment of a
    progress bar against the white around it; and links inside text are
    underlined, not told by colour alone (1.4.1)."""
    sign_in(page, super_admin)
    white = "rgb(255, 255, 255)"
    page.goto(f"{live_server.url}/batches/")
    segments = page.locator(".bar span")
    assert segments.count() >= 3
    for i in range(segments.count()):
        colour = segments.nth(i).evaluate("e => getComputedStyle(e).backgroundColor")
        assert contrast(colour, white) >= 3, colour  # the track and the gaps are white
    assert page.locator(".bar").first.evaluate("e => getComputedStyle(e).backgroundColor") == white
    assert page.get_by_test_id("bar-counts").first.inner_text().strip()  # counts in text too

    page.goto(f"{live_server.url}/batches/new/")
    name = page.locator("#id_name")
    border = name.evaluate("e => getComputedStyle(e).borderTopColor")
    assert contrast(border, white) >= 3, border
    for target in (name, page.get_by_test_id("create-batch")):
        target.focus()
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # focused by keyboard: :focus-visible
        style = target.evaluate(
            "e => [getComputedStyle(e).outlineStyle, getComputedStyle(e).outlineWidth,"
            " getComputedStyle(e).outlineColor]"
        )
        assert style[0] != "none" and float(style[1].removesuffix("px")) >= 2, style
        assert contrast(style[2], white) >= 3, style
        assert contrast(style[2], "rgb(245, 246, 248)") >= 3, style  # the page's grey

    message = MessageLog.objects.exclude(batch=None).first()
    page.goto(f"{live_server.url}/messages/{message.pk}/")
    in_text = page.locator("main p a, main li a, main dd a")
    assert in_text.count() > 0
    for i in range(in_text.count()):
        line = in_text.nth(i).evaluate("e => getComputedStyle(e).textDecorationLine")
        assert "underline" in line, in_text.nth(i).inner_text()
