"""Every moment a page shows says its time zone, in one format on every page;
schedules say their interval as people do ("daily", not "1440 min")."""

import re

import pytest
from django.core.management import call_command

from retry_admin.models import MessageLog
from retry_admin.services.manual_retry import message_retry
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.django_db

# Anything that looks like a clock time (12:34 or 12:34:56), with what follows it.
CLOCK = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?(?:\.\d+)?(?P<after>[^<\"]{0,4})")
STAMP = re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [A-Z]{3}\b")


@pytest.fixture
def history(super_admin, make_dead_lettered, batch_with_failures, settings):
    call_command("setup_retry_admin", verbosity=0)
    retry_cycle_run(trigger="console", user=super_admin)
    sender_drain(until_empty=True)
    make_dead_lettered(2)
    message = MessageLog.objects.filter(batch=batch_with_failures).first()
    message_retry(message_ids=[message.pk], user=super_admin)
    return {"batch": batch_with_failures, "message": message}


def _text(html: str) -> str:
    """The page without what is no text to read: <script>, <style>, <svg> and
    the machine-readable ``datetime`` attributes."""
    html = re.sub(r' datetime="[^"]*"', "", html)
    return re.sub(r"<(script|style|svg)\b.*?</\1>", "", html, flags=re.S)


def test_every_time_on_every_page_says_its_zone_in_one_format(super_client, history, settings):
    settings.TIME_ZONE = "Europe/London"
    pages = [
        "/",
        "/messages/",
        f"/messages/{history['message'].pk}/",
        "/failures/",
        "/failures/?status=failed",
        "/dlq/",
        "/batches/",
        f"/batches/{history['batch'].pk}/",
        "/health/",
    ]
    for url in pages:
        html = _text(super_client.get(url).content.decode())
        clocks = list(CLOCK.finditer(html))
        bare = [m.group(0) for m in clocks if not re.match(r" [A-Z]{3}", m.group("after"))]
        assert not bare, (url, bare)
        assert not re.search(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d", html), url
        assert len(clocks) == len(STAMP.findall(html)), url


def test_a_bulk_preview_says_its_moment_with_the_zone(super_client, history):
    dead = MessageLog.objects.filter(status="dead_lettered").first()
    response = super_client.post(
        "/failures/bulk/preview/", {"status": "dead_lettered", "error": dead.error_signature}
    )
    html = response.content.decode()
    assert "Retry 2 messages?" in html
    assert STAMP.search(html), html


def test_schedules_say_their_interval_as_people_do(super_client, settings):
    settings.MESSAGE_RETRY_INTERVAL_HOURS = 6
    call_command("setup_retry_admin", verbosity=0)
    html = super_client.get("/health/").content.decode()
    assert "daily" in html and "every 6 h" in html and "every minute" in html
    assert " min</td>" not in html.replace("every 5 min</td>", "")
