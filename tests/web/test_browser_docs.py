"""The overview as docs/overview.png shows it, from a day of traffic sent
through the real services (batches, sender, retry cycle, a crashing worker
and the DLQ) on the simulated channel, with the clock stepped through the
last 24 hours so the chart has a day to show. Saved under the run's output
directory; with RETRY_ADMIN_DOCS_SCREENSHOT=1 also to docs/overview.png."""

import os
import random
import shutil
from datetime import timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from retry_admin.channels import reset_channels
from retry_admin.models import HourlyCount, Template
from retry_admin.services.batches import RecipientRow, batch_create
from retry_admin.services.retry import retry_cycle_run
from retry_admin.services.sender import sender_drain
from tests.conftest import receive_and_drop

pytestmark = pytest.mark.browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "overview.png"
NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia"]


def _clock_at(moment):
    """A clock that starts at ``moment`` and then runs at the real pace."""
    real_now = timezone.now
    started = real_now()
    return mock.patch("django.utils.timezone.now", lambda: moment + (real_now() - started))


def _day_of_traffic(user) -> None:
    rng = random.Random(3)
    welcome = Template.objects.create(
        name="Welcome", body="Hi {{ name }}, welcome aboard! Your code is {{ code }}."
    )
    start = timezone.now().replace(minute=5, second=0, microsecond=0) - timedelta(hours=23)
    serial = 0
    for hour in range(24):
        moment = start + timedelta(hours=hour)
        with _clock_at(moment):
            size = rng.randint(60, 160) if 7 <= (moment.hour % 24) <= 21 else rng.randint(5, 30)
            rows = [
                RecipientRow(
                    i + 1,
                    f"+4477009{serial + i:05d}",
                    {"name": NAMES[(serial + i) % len(NAMES)], "code": f"{1000 + serial + i}"},
                )
                for i in range(size)
            ]
            serial += size
            batch_create(
                name=f"{moment:%H}:00 welcome",
                template=welcome,
                recipients=rows,
                channel="simulated",
                user=user,
            )
            sender_drain(until_empty=True)
        if hour % 6 == 5:
            with _clock_at(moment + timedelta(minutes=30)):
                retry_cycle_run(trigger="schedule")
                sender_drain(until_empty=True)


def test_the_overview_screenshot_for_the_docs(
    page, live_server, super_admin, sign_in, shot, settings
):
    settings.SIMULATED_LATENCY_MS = 12
    settings.SIMULATED_TRANSIENT_RATE = 0.12
    settings.SIMULATED_PERMANENT_RATE = 0.03
    settings.SIMULATED_SEED = 11
    settings.MESSAGE_RETRY_AFTER_HOURS = 0.25
    reset_channels()
    call_command("setup_retry_admin", verbosity=0)  # groups, schedules, queue
    _day_of_traffic(super_admin)
    # A worker that crashed mid-delivery: its messages end up in the DLQ.
    settings.QUEUE_MAX_RECEIVES = 1
    batch_create(
        name="Night shift",
        template=Template.objects.get(name="Welcome"),
        recipients=[
            RecipientRow(i + 1, f"+4477008{i:05d}", {"name": "Kim", "code": "7"}) for i in range(7)
        ],
        channel="simulated",
        user=super_admin,
    )
    receive_and_drop()
    sender_drain(until_empty=True)
    assert HourlyCount.objects.count() >= 20

    sign_in(page, super_admin)
    expect(page.get_by_test_id("dlq-depth")).to_have_text("7")
    page.wait_for_timeout(300)
    path = shot(page, "overview")
    if os.environ.get("RETRY_ADMIN_DOCS_SCREENSHOT") == "1":
        DOCS.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS)


DLQ_DOCS = DOCS.parent / "dlq.png"


def test_the_dlq_screenshot_for_the_docs_comes_from_seed_demo(
    page, live_server, sign_in, shot, settings, tmp_path
):
    """What `make run` shows on /dlq/ out of the box: seed_demo's crashing
    worker leaves entries there."""
    from django.contrib.auth import get_user_model

    settings.VAR_DIR = tmp_path
    settings.SIMULATED_LATENCY_MS = 0
    call_command("setup_retry_admin", verbosity=0)
    call_command("seed_demo", verbosity=0)
    admin = get_user_model().objects.get(username="admin")

    sign_in(page, admin, (tmp_path / "demo_admin_password").read_text().strip())
    page.goto(f"{live_server.url}/dlq/")
    expect(page.get_by_test_id("dlq-count")).not_to_have_text("0")
    page.get_by_test_id("replay-all").click()
    expect(page.get_by_test_id("dlq-panel")).to_contain_text("Replay")
    path = shot(page, "dlq")
    if os.environ.get("RETRY_ADMIN_DOCS_SCREENSHOT") == "1":
        shutil.copyfile(path, DLQ_DOCS)
