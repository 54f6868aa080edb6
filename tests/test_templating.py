"""render_template splits a body once (compile_template) and fills it per
message; it must say exactly what the one-pass substitution said."""

import re

from hypothesis import given
from hypothesis import strategies as st

from retry_admin.models.templating import PLACEHOLDER_RE, render_template
from tests.strategies import FUZZ


def _substituted(body: str, context: object, recipient: str) -> str:
    """The substitution render_template did before it was compiled."""
    values = {**context, "recipient": recipient}

    def substitute(match: re.Match) -> str:
        if match.group(1) not in values:
            raise KeyError(match.group(1))
        return str(values[match.group(1)])

    return PLACEHOLDER_RE.sub(substitute, body)


def _outcome(render, *args):
    try:
        return render(*args)
    except (KeyError, TypeError, AttributeError) as exc:
        return (exc.__class__, exc.args[:1] if isinstance(exc, KeyError) else ())


NAMES = st.sampled_from(["name", "code", "recipient", "missing", "_x9"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=4,
)
BODIES = st.lists(
    st.text(max_size=6)
    | NAMES.map(lambda n: "{{ " + n + " }}")
    | NAMES.map(lambda n: "{{" + n + "}}"),
    max_size=6,
).map("".join)
CONTEXTS = st.dictionaries(NAMES | st.text(max_size=3), JSON, max_size=4) | JSON


@given(body=BODIES, context=CONTEXTS, recipient=st.text(max_size=8))
@FUZZ
def test_it_renders_and_fails_as_the_substitution_did(body, context, recipient):
    assert _outcome(render_template, body, context, recipient) == _outcome(
        _substituted, body, context, recipient
    )


def test_it_fills_each_placeholder_and_the_recipient():
    body = "Hi {{ name }}, {{code}} for {{ recipient }}; {{ name }} again"
    context = {"name": "Ada", "code": 42, "recipient": "not this"}

    assert render_template(body, context, "+4477") == "Hi Ada, 42 for +4477; Ada again"


def test_a_context_that_is_not_a_mapping_is_refused_even_without_placeholders():
    for context in (["a"], "text", 3):
        assert _outcome(render_template, "plain", context, "r")[0] is TypeError
