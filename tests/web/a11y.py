"""Accessibility checks shared by the browser tests: axe-core (vendored from
the npm registry by scripts/browser.sh, never a CDN) and where focus is."""

import contextlib
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.test import Client
from django.urls import Resolver404, resolve, reverse
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

from retry_admin.web import urls as console_urls
from tests.requirements import unavailable

ROOT = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.14.1"
AXE = ROOT / ".tools" / f"axe-core-{AXE_VERSION}" / "axe.min.js"
# WCAG 2.1 level A and AA, as the issue asks; best practices are not failures.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
FAILING = {"serious", "critical"}


def axe_source() -> str:
    """axe.min.js; a missing copy fails under CI=true and skips elsewhere."""
    if not AXE.is_file():
        unavailable(
            f"axe-core ({AXE.relative_to(ROOT)}) is missing",
            get_it="`bash scripts/browser.sh` vendors it from the npm registry",
        )
    return AXE.read_text()


def axe_violations(page, source: str) -> list[dict]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now, each
    with its impact and the first few offending nodes. Injected through the
    DevTools protocol (page.evaluate), which the Content-Security-Policy
    does not apply to, so the page's own policy stays as served."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(f"() => {{ {source}\n }}")
    options = {"runOnly": {"type": "tag", "values": TAGS}, "resultTypes": ["violations"]}
    result = page.evaluate(
        "async (options) => (await axe.run(document, options)).violations", options
    )
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [
                {"target": n["target"], "summary": (n.get("failureSummary") or "")[:300]}
                for n in v["nodes"][:4]
            ],
            "count": len(v["nodes"]),
        }
        for v in result
    ]


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in FAILING]


def describe(violations: dict[str, list[dict]]) -> str:
    return json.dumps(violations, indent=1)[:6000]


FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e === document.documentElement) return null;
  return {tag: e.tagName.toLowerCase(), id: e.id, testid: e.dataset.testid || '',
          text: (e.textContent || e.value || '').trim().slice(0, 60),
          role: e.getAttribute('role') || '', label: e.getAttribute('aria-label') || '',
          inDialog: !!e.closest('[role=dialog]')};
}"""


def focused(page, *, settle_ms: int = 2000) -> dict | None:
    """What has focus once the page has settled; None when it stays on <body>
    (lost). An out-of-band part of an answer (the flash) can land before the
    swap that moves focus, so this waits up to ``settle_ms`` for it."""
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            # A function, not an expression: the page's CSP forbids eval,
            # which Playwright would use to poll an expression.
            "() => document.activeElement && document.activeElement !== document.body",
            timeout=settle_ms,
        )
    return page.evaluate(FOCUS)


# Every page of the console, found by following its links


LINKS = """() => [...document.querySelectorAll('a[href]')].map(a => ({
  href: a.href, nav: !!a.closest('nav')}))"""


def console_name(url: str, origin: str) -> str | None:
    """The URL name of a console page (retry_admin/web/urls.py), else None."""
    if not url.startswith(origin):
        return None
    try:
        match = resolve(urlsplit(url).path)
    except Resolver404:
        return None
    if match.url_name not in {p.name for p in console_urls.urlpatterns}:
        return None
    return match.url_name


def crawl(page, origin: str, visit: Callable[[str], None]) -> set[str]:
    """Open every console page a signed-in user can reach by links from the
    overview: one page per URL name, plus every link of a <nav> (the main
    nav, the failures tabs) but not its pagers; ``visit(path)`` runs on each
    once it has loaded. Returns the URL names reached."""
    queue = [f"{origin}/"]
    seen_names: set[str] = set()
    seen_urls: set[str] = set()
    while queue:
        url = queue.pop(0)
        if url in seen_urls:
            continue
        seen_urls.add(url)
        page.goto(url)
        page.wait_for_load_state("networkidle")
        visit(url.removeprefix(origin))
        for link in page.evaluate(LINKS):
            href = link["href"].split("#")[0]
            target = console_name(href, origin)
            if target is None or href in seen_urls or href in queue:
                continue
            pager = {"before", "after"} & set(parse_qs(urlsplit(href).query))
            if target in seen_names and not (link["nav"] and not pager):
                continue
            seen_names.add(target)
            queue.append(href)
        name = console_name(page.url, origin)
        if name:
            seen_names.add(name)
    return seen_names


def _serves_a_page(name: str, user) -> bool:
    """A URL that answers a signed-in GET with a whole page (not a POST-only
    action, not an htmx fragment)."""
    pattern = next(p for p in console_urls.urlpatterns if p.name == name)
    client = Client()
    client.force_login(user)
    converters = pattern.pattern.converters
    if converters:
        # An id nothing has: a page answers 404 (its view looked), an action 405.
        dummy = {"int": 0, "uuid": uuid.UUID(int=0)}
        kwargs = {k: dummy.get(type(c).__name__[:-9].lower(), "x") for k, c in converters.items()}
        return client.get(reverse(name, kwargs=kwargs)).status_code != 405
    response = client.get(reverse(name))
    kind = response.get("Content-Type", "")
    return response.status_code == 200 and "text/html" in kind and b"<main" in response.content


def unreached_pages(reached: set[str], user) -> set[str]:
    """The pages of retry_admin/web/urls.py that ``crawl`` did not reach: a
    page added without a link to it shows here."""
    pages = {p.name for p in console_urls.urlpatterns if p.name and _serves_a_page(p.name, user)}
    return pages - reached


def _testid(name: str) -> str:
    return f"[data-testid={name}]"


# (label, page to open first or None to stay, steps: a selector to click or
# (selector, text) to type, what shows once the panel is in that state)
PANELS = [
    ("bulk preview", "/failures/?status=permanently_failed", ["retry-group"], "bulk-confirm"),
    ("bulk result", None, ["bulk-confirm"], "bulk-result"),
    ("bulk preview from a filter", "/messages/?status=failed", ["bulk-filter"], "bulk-panel"),
    ("dlq replay preview", "/dlq/", ["replay-all"], "replay-confirm"),
    (
        "dlq purge preview with a wrong word",
        "/dlq/",
        ["purge-all", ("purge-confirm", "nope"), "purge-submit"],
        "purge-error",
    ),
    ("dlq replay result", "/dlq/", ["replay-one"], "dlq-result"),
    ("batch form with errors", "/batches/new/", ["create-batch"], "form-errors"),
    (
        "new template with errors",
        None,
        ["new-template-toggle", "create-template"],
        "template-errors",
    ),
]


def panel_states(page, origin: str, visit: Callable[[str], None]) -> None:
    """Open every panel state the console has (PANELS), calling
    ``visit(label)`` in each: the bulk retry preview and its result, a
    preview from a filter, the DLQ replay and purge previews, a purge with the
    wrong word, a DLQ replay's result, the batch form and the new-template box
    refused. Needs permanently failed and failed messages and two dead letters."""
    for label, path, steps, shows in PANELS:
        if path:
            page.goto(origin + path)
        for step in steps:
            if isinstance(step, tuple):
                page.locator(_testid(step[0])).first.fill(step[1])
            else:
                page.locator(_testid(step)).first.click()
        expect(page.locator(_testid(shows)).first).to_be_visible()
        visit(label)
