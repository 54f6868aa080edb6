"""Hypothesis strategies for hostile input: what a fuzzer, a typo or a
curious admin may send to any query parameter, form field or JSON body."""

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Fast enough for `make test`: the same examples every run (derandomize), so
# a red run is reproducible; fixtures are built once per test, not per example.
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")),  # more for a soak run
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

_SPECIAL = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "٣",
    "0",
    "-1",
    "1e309",
    "NaN",
    "Infinity",
    "9" * 40,
    "-" + "9" * 40,
    "0000-01-01",
    "2026-02-30",
    "2026-13-45",
    "9999-12-31",
    "2026-02-30T10:00:00",
    "2026-01-01T25:61:61+99:99",
    "null",
    "true",
    "[]",
    "{}",
    "%",
    "%00",
    "../../etc/passwd",
    "javascript:alert(1)",
    "//evil.example/",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
    "PURGE",
    "all",
    "selected",
]

_dates = st.builds(
    "{:04d}-{:02d}-{:02d}".format,
    st.integers(0, 9999),
    st.integers(0, 99),
    st.integers(0, 99),
)
_long = st.builds(
    lambda unit, times: unit * times,
    st.sampled_from(["9", "a", "é", "\x00", "-"]),
    st.integers(1_000, 20_000),
)

nasty_text = st.one_of(
    st.sampled_from(_SPECIAL),
    st.text(max_size=30),  # any code point but surrogates, NUL included
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    _dates,
    st.uuids().map(str),
    _long,
)
"""One hostile string."""

nasty_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        nasty_text,
        st.sampled_from(["\ud800", "a\udc00b"]),  # lone surrogates: valid JSON escapes
    ),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
"""Any JSON value, hostile strings and numbers at the leaves."""


def params(*names: str):
    """A query string or form: any subset of ``names``, each a hostile string
    (or, for lists, several)."""
    value = nasty_text | st.lists(nasty_text, min_size=2, max_size=3)
    return st.fixed_dictionaries({}, optional={name: value for name in names})


def body(**fields):
    """A JSON body: any subset of ``fields`` (each a strategy, or any JSON),
    or any JSON value at all."""
    shaped = st.fixed_dictionaries(
        {}, optional={name: nasty_json | strategy for name, strategy in fields.items()}
    )
    return shaped | nasty_json
