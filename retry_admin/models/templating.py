"""The message template language: ``{{ name }}`` placeholders, filled from a
recipient's context (and ``recipient`` itself)."""

import re
from collections.abc import Callable
from functools import lru_cache

from django.core.exceptions import ValidationError

PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def template_placeholders(body: str) -> set[str]:
    return set(PLACEHOLDER_RE.findall(body))


def validate_template_body(body: str) -> None:
    """Refuse braces that are not a well-formed ``{{ name }}`` placeholder."""
    stripped = PLACEHOLDER_RE.sub("", body)
    if "{{" in stripped or "}}" in stripped:
        bad = re.search(r"\{\{[^}]*\}?\}?", stripped)
        fragment = bad.group(0) if bad else "{{"
        raise ValidationError(
            "Malformed placeholder %(fragment)s: use {{ name }} with letters, digits and _.",
            params={"fragment": fragment},
            code="malformed_placeholder",
        )


def render_template(body: str, context: dict, recipient: str) -> str:
    """``body`` with each placeholder replaced by its value in ``context``
    (``recipient`` by the recipient); raises ``KeyError`` for a placeholder
    without a value, ``TypeError`` when ``context`` is not a mapping."""
    return compile_template(body)(context, recipient)


@lru_cache(maxsize=256)
def compile_template(body: str) -> Callable[[dict, str], str]:
    """``render_template`` for one body, split into its text and placeholders
    once: the sender renders a chunk of messages from one template."""
    parts = PLACEHOLDER_RE.split(body)
    first, pairs = parts[0], tuple(zip(parts[1::2], parts[2::2], strict=True))

    def render(context: dict, recipient: str) -> str:
        if context.__class__ is not dict:
            context = {**context}  # what is not a mapping raises here, placeholders or not
        out = [first]
        for name, text in pairs:
            if name == "recipient":
                value = recipient
            elif name in context:
                value = context[name]
            else:
                raise KeyError(name)
            out.append(str(value))
            out.append(text)
        return "".join(out)

    return render
