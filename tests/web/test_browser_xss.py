"""A recipient, a template or an error text containing <script> is shown as
text and never runs, checked in the browser (no dialog opens, no global is set)."""

import pytest
from playwright.sync_api import expect

from retry_admin.channels import reset_channels
from retry_admin.models import Batch, MessageLog
from retry_admin.services.sender import sender_drain

pytestmark = pytest.mark.browser

RECIPIENT = "<img src=x onerror=\"window.__xss='recipient';alert('recipient')\">@example.com"
NAME = "<script>window.__xss='context';alert('context')</script>"
TEMPLATE_NAME = "Evil <script>alert('template name')</script>"
TEMPLATE_BODY = "Hi {{ name }} <script>window.__xss='template';alert('template')</script>"


def test_hostile_text_is_shown_never_run(
    page, live_server, super_admin, sign_in, shot, dialogs, settings
):
    settings.SIMULATED_PERMANENT_RATE = 1.0  # its error text repeats the recipient
    settings.SIMULATED_TRANSIENT_RATE = 0.0
    reset_channels()
    url = live_server.url
    sign_in(page, super_admin)

    # A template created from the form, recipients pasted, all hostile
    page.goto(f"{url}/batches/new/")
    page.fill("#id_name", "Hostile <script>alert('batch')</script>")
    page.click("text=Or create a new template")
    page.fill("input[name=template_name]", TEMPLATE_NAME)
    page.fill("textarea[name=template_body]", TEMPLATE_BODY)
    page.get_by_test_id("create-template").click()
    expect(page.locator("#new-template")).to_contain_text("created and selected")
    page.select_option("#id_channel", "simulated")
    page.fill(
        "#id_recipients", f'recipient,name\n"{RECIPIENT.replace(chr(34), chr(34) * 2)}",{NAME}\n'
    )
    expect(page.get_by_test_id("preview-body")).to_contain_text("<script>window.__xss='template'")
    expect(page.get_by_test_id("preview-body")).to_contain_text(NAME)
    shot(page, "xss-form-preview")
    page.get_by_test_id("create-batch").click()
    page.wait_for_url("**/batches/*/")
    batch = Batch.objects.get()
    assert MessageLog.objects.get().recipient == RECIPIENT
    sender_drain(until_empty=True)
    message = MessageLog.objects.get()
    assert "<img src=x onerror=" in message.last_error

    for name, path in [
        ("batch", f"/batches/{batch.pk}/"),
        ("batches", "/batches/"),
        ("messages", "/messages/"),
        ("message", f"/messages/{message.pk}/"),
        ("failures", "/failures/"),
        ("overview", "/"),
    ]:
        page.goto(f"{url}{path}")
        page.wait_for_timeout(300)
        shot(page, f"xss-{name}")
        assert page.evaluate("window.__xss") is None, path
    page.goto(f"{url}/messages/{message.pk}/")
    body = page.locator("main")
    expect(body).to_contain_text(RECIPIENT)  # the recipient, as text
    expect(body).to_contain_text("<script>window.__xss='template'")  # the template, as text
    expect(page.get_by_test_id("last-error")).to_contain_text("<img src=x onerror=")  # the error
    assert page.locator("main img").count() == 0
    assert dialogs == []
