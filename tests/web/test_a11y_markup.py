"""issue 14, the structure that screen readers lean on, on every page as
served: a skip link to <main>, one h1, tables with a caption (or a name), `scope` on every
header cell and no empty one, a distinct <title> per failures tab and per
message, and form errors tied to their fields (aria-invalid,
aria-describedby pointing at an element that exists)."""

import re
from html.parser import HTMLParser

import pytest

from retry_admin.models import Batch, MessageLog
from retry_admin.services.sender import sender_drain
from tests.web.conftest import batch_form


class Page(HTMLParser):
    """The parts of a page these checks read."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.tables: list[dict] = []
        self.headers: list[dict] = []  # every <th>: its scope, section and text
        self.h1 = 0
        self.first_link: dict | None = None
        self.title = ""
        self.fields: dict[str, dict] = {}  # name -> attributes of input/select/textarea
        self._stack: list[str] = []
        self._th: dict | None = None
        self._in_title = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if tag == "a" and self.first_link is None:
            self.first_link = a
        if tag == "h1":
            self.h1 += 1
        if tag == "title":
            self._in_title = True
        if tag == "table":
            # A caption, or a name from aria-label(ledby): what a screen reader announces.
            self.tables.append({"caption": bool(a.get("aria-labelledby") or a.get("aria-label"))})
        if tag == "caption" and self.tables:
            self.tables[-1]["caption"] = True
        if tag == "th":
            sections = [t for t in self._stack if t in ("thead", "tbody", "tfoot")]
            section = sections[-1] if sections else ""
            self._th = {"scope": a.get("scope"), "section": section, "text": ""}
            self.headers.append(self._th)
        if tag in ("input", "select", "textarea") and a.get("name"):
            self.fields[a["name"]] = a
        if tag not in ("input", "br", "meta", "link", "img", "hr"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "th":
            self._th = None
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data):
        if self._th is not None:
            self._th["text"] += data
        if self._in_title:
            self.title += data


@pytest.fixture
def pages(super_client, make_batch, make_dead_lettered, failing_channel) -> dict[str, Page]:
    batch = make_batch(16, channel="simulated")
    sender_drain(until_empty=True)
    make_dead_lettered(2)
    message = MessageLog.objects.filter(batch=batch).exclude(last_error="").first()
    paths = [
        "/",
        "/messages/",
        f"/messages/{message.pk}/",
        "/failures/",
        "/failures/?status=failed",
        "/failures/?status=dead_lettered",
        "/dlq/",
        "/batches/",
        f"/batches/{batch.pk}/",
        "/batches/new/",
        "/health/",
        "/alerts/",
    ]
    found = {}
    for path in paths:
        response = super_client.get(path)
        assert response.status_code == 200, path
        found[path] = Page(response.content.decode())
    return found


def test_every_page_has_a_skip_link_one_h1_and_tables_screen_readers_can_walk(pages):
    for path, page in pages.items():
        assert page.first_link["href"] == "#main" and "main" in page.ids, path
        assert page.h1 == 1, path
        assert all(t["caption"] for t in page.tables), path
        for th in page.headers:
            want = "col" if th["section"] == "thead" else "row"
            assert th["scope"] == want, (path, th)
            assert th["text"].strip(), (path, "an empty header cell")


def test_titles_tell_the_failures_tabs_and_the_messages_apart(pages):
    tabs = [pages[p].title for p in pages if p.startswith("/failures/")]
    assert len(set(tabs)) == 3, tabs
    message = next(p for p in pages if re.match(r"/messages/[0-9a-f-]{36}/$", p))
    recipient = MessageLog.objects.get(pk=message.split("/")[2])
    title = pages[message].title
    assert title.startswith(f"Message to {recipient.recipient}: "), title
    assert recipient.get_status_display().lower() in title


def test_form_errors_mark_their_fields_and_point_at_the_message(super_client, template):
    page = Page(super_client.post("/batches/new/", batch_form(template, name="")).content.decode())
    for name in ("name", "recipients"):
        field = page.fields[name]
        assert field.get("aria-invalid") == "true", (name, field)
        described = field["aria-describedby"].split()
        assert all(i in page.ids for i in described), (name, described)
        assert any(not i.endswith("-help") for i in described), (name, described)  # the error
    assert "aria-invalid" not in page.fields["template"]
    assert not Batch.objects.exists()

    refused = super_client.get("/messages/?batch=abc&created_from=2026-02-30")
    filters = Page(refused.content.decode())
    for name in ("batch", "created_from"):
        assert filters.fields[name].get("aria-invalid") == "true", name
        assert filters.fields[name]["aria-describedby"] in filters.ids
    assert "aria-invalid" not in filters.fields["created_to"]
