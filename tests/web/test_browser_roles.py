"""A viewer, in the browser: every page readable, no action button anywhere,
and a forged POST (with a valid CSRF token) refused with 403, changing nothing."""

import pytest
from playwright.sync_api import expect

from retry_admin.models import AuditEvent, MessageLog, QueueMessage

pytestmark = pytest.mark.browser

ACTION_SELECTORS = ", ".join(
    [
        "[data-testid=retry-one]",
        "[data-testid=retry-selected]",
        "[data-testid=retry-group]",
        "[data-testid=bulk-filter]",
        "[data-testid=replay-all]",
        "[data-testid=replay-one]",
        "[data-testid=replay-selected]",
        "[data-testid=purge-all]",
        "[data-testid=new-batch]",
        "[data-testid=retry-now]",
        "button:has-text('Run retry cycle now')",
        "input[type=checkbox][name=ids]",
    ]
)


def _snapshot():
    return (
        list(MessageLog.objects.order_by("id").values_list("id", "status", "updated_at")),
        QueueMessage.objects.count(),
        AuditEvent.objects.count(),
    )


def test_a_viewer_sees_no_action_buttons_and_is_refused_on_a_forged_post(
    page, live_server, viewer, batch_with_failures, make_dead_lettered, sign_in, shot
):
    make_dead_lettered(2, name="In the DLQ")
    message = MessageLog.objects.filter(batch=batch_with_failures).first()
    url = live_server.url
    sign_in(page, viewer)
    expect(page.get_by_test_id("role")).to_have_text("Viewer (read-only)")

    pages = {
        "overview": "/",
        "messages": "/messages/",
        "message": f"/messages/{message.pk}/",
        "failures": "/failures/?status=failed",
        "dlq": "/dlq/",
        "batches": "/batches/",
        "batch": f"/batches/{batch_with_failures.pk}/",
        "health": "/health/",
    }
    for name, path in pages.items():
        page.goto(f"{url}{path}")
        expect(page.locator("main")).to_be_visible()
        assert page.locator(ACTION_SELECTORS).count() == 0, f"an action is offered on {path}"
        shot(page, f"viewer-{name}")
    page.goto(f"{url}/dlq/")
    expect(page.get_by_test_id("dlq-count")).to_have_text("2")  # sees the data, read-only

    before = _snapshot()
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    forged = {
        f"/messages/{message.pk}/retry/": {},
        "/messages/retry/": {"ids": str(message.pk)},
        "/dlq/replay/": {"scope": "all", "count": "2"},
        "/dlq/purge/": {"scope": "all", "confirm": "PURGE"},
        "/retry-cycle/": {},
        "/batches/new/": {"name": "x", "recipients": "a@example.com"},
    }
    for path, form in forged.items():
        response = page.request.post(f"{url}{path}", form=form, headers=headers)
        assert response.status == 403, (path, response.status)
    assert _snapshot() == before

    page.goto(f"{url}/batches/new/")
    expect(page.get_by_text("Your role may view batches but not create them.")).to_be_visible()
    shot(page, "viewer-batch-form-refused")
