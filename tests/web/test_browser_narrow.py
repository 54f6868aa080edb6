"""Every page fits a phone (390 px) and a small tablet (640 px) without
scrolling sideways: the top bar wraps, tables scroll inside their card."""

import pytest
from django.core.management import call_command

from retry_admin.models import Batch, MessageLog
from retry_admin.services.sender import sender_drain

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
    page.goto(f"{live_server.url}/dlq/")
    page.get_by_test_id("purge-all").click()
    page.get_by_test_id("purge-confirm").wait_for()
    if page.evaluate(scroll) > width:
        too_wide["/dlq/ purge dialog"] = page.evaluate(scroll)
    shot(page, f"{width}px-dlq-purge")

    assert too_wide == {}, f"wider than {width} px: {too_wide}"


WIDE = """(width) => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > width + 0.5 && !e.closest('.table-wrap'))
  .slice(0, 5).map(e => e.tagName + '.' + e.className)"""
