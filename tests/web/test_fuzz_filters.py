"""Hypothesis over every query parameter and form field of every console page,
fragment and preview, signed in as a Super Admin (so the actions run too):
hostile strings, NUL bytes, huge and negative numbers, impossible dates and
very long values never get a 5xx."""

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from retry_admin.filters import FILTER_FIELDS
from tests.strategies import FUZZ, nasty_text, params

FILTERS = params(*FILTER_FIELDS, "after", "before")

PAGES = {
    "/": params("status", "after", "before", "next"),
    "/messages/": FILTERS,
    "/messages/{message}/": params("before", "after"),
    "/failures/": FILTERS,
    "/failures/bulk/progress/": params("since", "until", "actor"),
    "/dlq/": params("limit", "before", "scope"),
    "/batches/": params("before"),
    "/batches/{batch}/": params("before"),
    "/batches/new/": params("template", "name"),
    "/health/": params("before"),
}

ACTIONS = {
    "/failures/bulk/preview/": params(*FILTER_FIELDS),
    "/failures/bulk/run/": params("token"),
    "/dlq/preview/": params("scope", "ids", "purge"),
    "/dlq/replay/": params("scope", "ids", "count"),
    "/dlq/purge/": params("scope", "ids", "confirm"),
    "/messages/retry/": params("ids"),
    "/messages/{message}/retry/": params("ids"),
    "/retry-cycle/": params("next"),
    "/batches/new/preview/": params("template", "recipients", "name", "channel"),
    "/batches/new/": params("name", "template", "channel", "recipients", "idempotency_key"),
    "/templates/new/": params("name", "body"),
}


def _no_5xx(send) -> None:
    # A savepoint per request: one failed statement cannot spoil the next example.
    with transaction.atomic():
        response = send()
        assert response.status_code < 500, (response.status_code, response.content[:500])


@pytest.mark.parametrize("path", list(PAGES))
def test_it_never_answers_5xx_to_a_page_query(super_client, fuzz_world, path):
    url = path.format(**fuzz_world)

    @FUZZ
    @given(query=PAGES[path], htmx=st.booleans())
    def run(query, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        _no_5xx(lambda: super_client.get(url, query, headers=headers))

    run()


@pytest.mark.parametrize("path", list(ACTIONS))
def test_it_never_answers_5xx_to_an_action(super_client, fuzz_world, path):
    url = path.format(**fuzz_world)

    @FUZZ
    @given(form=ACTIONS[path], htmx=st.booleans())
    def run(form, htmx):
        headers = {"HX-Request": "true"} if htmx else {}
        _no_5xx(lambda: super_client.post(url, form, headers=headers))

    run()


@FUZZ
@given(segment=nasty_text)
def test_it_never_answers_5xx_to_a_path(super_client, segment):
    for path in ("/batches/{}/", "/messages/{}/", "/messages/{}/retry/"):
        _no_5xx(lambda path=path: super_client.get(path.format(segment)))
