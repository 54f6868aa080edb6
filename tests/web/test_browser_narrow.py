"""Every page fits a phone (390 px) and a small tablet (640 px, a 1280 px
screen at 200% zoom) without scrolling sideways: the top bar wraps, tables
scroll inside their card. Every page means the list below and every page a
link reaches (tests/web/a11y.py crawl), in every panel state."""

import pytest
from django.core.management import call_command

from retry_admin.models import Batch, MessageLog
from retry_admin.services.sender import sender_drain
from tests.web.a11y import crawl, panel_states, unreached_pages

pytestmark = pytest.mark.browser

PAGES = [
    "/",
    "/messages/",
    "/messages/{message}/",
    "/failures/",
    "/failures/?status=failed",
    "/dlq/",
    "/batches/",
    "/batches/new/",
    "/batches/{batch}/",
    "/health/",
]


@pytest.mark.parametrize("width", [390, 640])
def test_every_page_fits_the_screen_width(
    page,
    live_server,
    super_admin,
    make_batch,
    make_dead_lettered,
    failing_channel,
    sign_in,
    shot,
    width,
):
    call_command("setup_retry_admin", verbosity=0)
    batch = make_batch(12, channel="simulated")
    sender_drain(until_empty=True)
    call_command("seed_demo", verbosity=0)  # what a new admin sees after `make run`
    make_dead_lettered(2)
    # The batch with the most kinds of error: its errors table is the widest.
    most_errors = max(
        Batch.objects.all(),
        key=lambda b: (
            b.messagelog_set.exclude(error_signature="")
            .values("status", "error_signature")
            .distinct()
            .count()
        ),
    ).pk
    message = MessageLog.objects.filter(batch=batch).exclude(last_error="").first()
    page.set_viewport_size({"width": width, "height": 844})

    page.goto(f"{live_server.url}/accounts/login/")
    too_wide = {}
    scroll = "document.documentElement.scrollWidth"
    if page.evaluate(scroll) > width:
        too_wide["/accounts/login/"] = page.evaluate(scroll)
    sign_in(page, super_admin)
    for path in PAGES:
        page.goto(live_server.url + path.format(message=message.pk, batch=most_errors))
        page.wait_for_load_state("networkidle")
        if page.evaluate(scroll) > width:
            too_wide[path] = (page.evaluate(scroll), page.evaluate(WIDE, width))
        shot(page, f"{width}px{path.split('?')[0].rstrip('/').replace('/', '-') or '-overview'}")

    def measure(label: str) -> None:
        page.wait_for_load_state("networkidle")
        if page.evaluate(scroll) > width:
            too_wide[label] = (page.evaluate(scroll), page.evaluate(WIDE, width))

    # Every other page a link reaches (pages added later too), and every panel.
    reached = crawl(page, live_server.url, measure)
    assert unreached_pages(reached, super_admin) == set()
    panel_states(page, live_server.url, measure)
    shot(page, f"{width}px-new-template-refused")

    assert too_wide == {}, f"wider than {width} px: {too_wide}"


WIDE = """(width) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 0.5 && !e.closest('.table-wrap'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
