"""Under the Content-Security-Policy every page still works in a real browser:
no violation and no console error on any page, the live preview (htmx) and
the API docs (Swagger UI) included."""

import pytest
from playwright.sync_api import expect

from retry_admin.models import MessageLog

pytestmark = pytest.mark.browser


def test_no_page_breaks_the_content_security_policy(
    page, live_server, super_admin, batch_with_failures, make_dead_lettered, sign_in
):
    make_dead_lettered(2)
    message = MessageLog.objects.filter(batch=batch_with_failures).first()
    problems: list[str] = []
    page.on("console", lambda m: m.type == "error" and problems.append(f"{page.url}: {m.text}"))
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    url = live_server.url
    sign_in(page, super_admin)
    # Violations are reported to the page as events; count them there too.
    page.add_init_script(
        "window.__csp = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
    )

    paths = [
        "/",
        "/messages/",
        f"/messages/{message.pk}/",
        "/failures/?status=failed",
        "/dlq/",
        "/batches/",
        f"/batches/{batch_with_failures.pk}/",
        "/health/",
    ]
    for path in paths:
        page.goto(f"{url}{path}")
        expect(page.locator("main")).to_be_visible()
        page.wait_for_timeout(300)  # a live refresh or two
        assert page.evaluate("window.__csp") == [], path

    page.goto(f"{url}/batches/new/")
    page.select_option("#id_template", index=1)
    page.fill("textarea[name=recipients]", "recipient,name\nada@example.com,Ada\n")
    expect(page.get_by_test_id("preview-body")).to_contain_text("Hello Ada!", timeout=5000)
    assert page.evaluate("window.__csp") == []

    page.goto(f"{url}/api/docs/")
    expect(page.locator(".swagger-ui .info")).to_be_visible(timeout=10000)
    assert page.evaluate("window.__csp") == []
    assert problems == []
