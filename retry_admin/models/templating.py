"""The message template language: ``{{ name }}`` placeholders, filled from a
recipient's context (and ``recipient`` itself)."""

import re

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
    values = {**context, "recipient": recipient}

    def substitute(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise KeyError(name)
        return str(values[name])

    return PLACEHOLDER_RE.sub(substitute, body)
