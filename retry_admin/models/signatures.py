"""Error signatures: one failure group per kind of error."""

import re

_SIGNATURE_RULES = [
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), "<email>"),
    (re.compile(r"https?://\S+"), "<url>"),
    (
        re.compile(r"\b[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}\b", re.I),
        "<id>",
    ),
    # Anything host:port-like (a name with a dot, digits and dots, [IPv6] or
    # localhost, then a port), valid address or not, and dotted quads without a port.
    (
        re.compile(
            r"(?:\[[0-9a-f:.]+\]|\blocalhost|\b[\w-]+(?:\.[\w-]+)+)(?::\d{1,5})\b"
            r"|\b\d+(?:\.\d+){3,}\b",
            re.I,
        ),
        "<host>",
    ),
    (re.compile(r"\b0x[0-9a-f]+\b", re.I), "<hex>"),
    # HTTP statuses keep their class: a 4xx is not the same failure as a 5xx.
    (re.compile(r"\b(HTTP\s*)([1-5])\d\d\b", re.I), r"\g<1><\g<2>xx>"),
    # Any other number, however long or punctuated (a phone number, 3000 or
    # 12.5, alone or inside a word like shard-12 or 30s), is one token.
    (re.compile(r"(?<!<)\+?\d(?:[\d\s().-]*\d)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


# The signature of an error with no text. A failure always has a signature
# (never ''): the failure indexes of the message log hold only the logs with
# one, so that first sends, which have none, never maintain them.
NO_ERROR_TEXT = "(no error text)"


def error_signature(error: str) -> str:
    """Normalise an error so that failures differing only by ids, numbers and
    addresses group together on the failures page."""
    text = error.strip()
    for pattern, replacement in _SIGNATURE_RULES:
        text = pattern.sub(replacement, text)
    return text[:255] or NO_ERROR_TEXT
