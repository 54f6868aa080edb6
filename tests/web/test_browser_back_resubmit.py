"""In a real browser: create a batch, go Back, press "Create and send" again.
Still one batch; the page asks before creating another."""

import re

import pytest
from playwright.sync_api import expect

from retry_admin.models import Batch, MessageLog

pytestmark = pytest.mark.browser

RECIPIENTS = "recipient,name\nada@example.com,Ada\ngrace@example.com,Grace"


def _fill(page) -> None:
    """What the browser restores from history; filled again where it did not."""
    if page.input_value("#id_name") != "Back and again":
        page.fill("#id_name", "Back and again")
    if page.input_value("#id_template") == "":
        page.select_option("#id_template", label="Greeting")
    if page.input_value("#id_recipients").strip() != RECIPIENTS:
        page.fill("#id_recipients", RECIPIENTS)


def test_back_then_create_again_makes_no_second_batch(
    page, live_server, super_admin, template, sign_in, shot
):
    sign_in(page, super_admin)
    page.goto(f"{live_server.url}/batches/new/")
    _fill(page)
    page.get_by_test_id("create-batch").click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    first = Batch.objects.get()

    page.go_back()
    page.wait_for_url(re.compile(r"/batches/new/$"))
    _fill(page)
    page.get_by_test_id("create-batch").click()

    expect(page.get_by_test_id("twin")).to_contain_text(f"This looks like batch #{first.pk}")
    shot(page, "back-resubmit-question")
    assert Batch.objects.count() == 1 and MessageLog.objects.count() == 2

    page.get_by_test_id("twin-create").click()
    page.wait_for_url(re.compile(r"/batches/\d+/$"))
    assert Batch.objects.count() == 2  # only by the explicit choice
