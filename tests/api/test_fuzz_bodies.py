"""Hypothesis over every API list filter and every body the API takes, as a
Super Admin (so the actions run too): hostile strings, NUL bytes, huge and
negative numbers, impossible dates, very long values and any JSON shape never
get a 5xx. (test_fuzz.py fuzzes from the OpenAPI schema; this goes off it.)"""

import json
from urllib.parse import urlencode

import pytest
from django.db import transaction
from hypothesis import given
from hypothesis import strategies as st

from retry_admin.filters import FILTER_FIELDS
from tests.strategies import FUZZ, body, nasty_json, nasty_text, params

LISTS = {
    "/api/messages/": params(*FILTER_FIELDS, "after", "before", "limit"),
    "/api/batches/": params("cursor", "limit"),
    "/api/batches/{batch}/": params("limit"),
    "/api/messages/{message}/": params("limit"),
    "/api/dlq/": params("limit"),
    "/api/Diagnostics/QueueStatus": params("limit"),
    "/api/Statistics/GetMessageStatusStats": params("hours", "from", "to"),
}

_recipient = st.fixed_dictionaries(
    {"recipient": nasty_json}, optional={"name": nasty_json, "recipient ": nasty_json}
)
_filter = body(**{name: nasty_text for name in FILTER_FIELDS})
BODIES = {
    ("POST", "/api/batches/"): body(
        template=nasty_text | st.just("Greeting"),
        name=nasty_text,
        channel=nasty_text | st.just("log"),
        priority=nasty_json,
        recipients=st.lists(_recipient | nasty_json, max_size=4),
    ),
    ("POST", "/api/messages/retry"): body(
        ids=st.lists(nasty_text, max_size=4),
        filter=_filter,
        preview=nasty_json,
        token=nasty_text,
    ),
    ("POST", "/api/messages/{message}/retry"): nasty_json,
    ("POST", "/api/dlq/replay"): body(ids=st.lists(nasty_text, max_size=4), all=nasty_json),
    ("DELETE", "/api/dlq/"): body(confirm=nasty_text, ids=st.lists(nasty_text, max_size=4)),
    ("POST", "/api/campaigns/retry-failed-messages"): nasty_json,
}
QUERIES = {
    ("DELETE", "/api/dlq/"): params("confirm", "ids"),
    ("POST", "/api/campaigns/retry-failed-messages"): params("dryRun"),
    ("POST", "/api/messages/retry"): params("preview"),
}


def _no_5xx(send) -> None:
    # A savepoint per request: one failed statement cannot spoil the next example.
    with transaction.atomic():
        response = send()
        assert response.status_code < 500, (response.status_code, response.content[:500])


@pytest.mark.parametrize("path", list(LISTS))
def test_it_never_answers_5xx_to_a_list_filter(as_super, fuzz_world, path):
    url = path.format(**fuzz_world)

    @FUZZ
    @given(query=LISTS[path])
    def run(query):
        _no_5xx(lambda: as_super.get(url, query))

    run()


@pytest.mark.parametrize(("method", "path"), list(BODIES), ids=[" ".join(key) for key in BODIES])
def test_it_never_answers_5xx_to_a_body(as_super, fuzz_world, method, path):
    url = path.format(**fuzz_world)

    @FUZZ
    @given(data=BODIES[method, path], query=QUERIES.get((method, path), st.just({})))
    def run(data, query):
        target = f"{url}?{urlencode(query, doseq=True)}" if query else url
        payload = json.dumps(data)
        _no_5xx(lambda: as_super.generic(method, target, payload, content_type="application/json"))

    run()


@FUZZ
@given(segment=nasty_text)
def test_it_never_answers_5xx_to_a_path(as_super, segment):
    for method, path in [
        ("GET", "/api/messages/{}/"),
        ("POST", "/api/messages/{}/retry"),
        ("GET", "/api/batches/{}/"),
    ]:
        _no_5xx(lambda method=method, path=path: as_super.generic(method, path.format(segment)))
