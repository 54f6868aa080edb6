"""A batch's recipient rows: checking them as they stream in (one row at a
time, keeping only what the report of a refused batch needs), and the hash of
a request's rows that tells a repeated request from a new one."""

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import NamedTuple

from django.conf import settings

from retry_admin.channels import Channel
from retry_admin.channels.registry import CHANNELS
from retry_admin.models import template_placeholders

MAX_RECIPIENT_LENGTH = 320
# Exactly Unicode category Cc (what unicodedata.category calls control), in C.
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class LineError:
    line: int  # 1-based; 0 for an error about the whole batch
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class BatchValidationError(Exception):
    """The batch was refused; nothing was written. ``errors`` says why, per line."""

    def __init__(self, errors: list[LineError]) -> None:
        self.errors = errors
        shown = "; ".join(str(e) for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"Batch refused: {shown}{more}")


class TooManyRecipients(BatchValidationError):
    """More unique recipients than ``MAX_BATCH_RECIPIENTS`` (the API answers 413)."""


class RecipientRow(NamedTuple):
    """One recipient as read: its line (1-based), address and template
    context. A named tuple: a parser makes one per line, and a frozen
    dataclass cost half as much again to build."""

    line: int
    recipient: str
    context: Mapping[str, object] = MappingProxyType({})  # read-only: shared by every row


def _recipient_problem(value: str) -> str | None:
    if not value:
        return "recipient is empty"
    if len(value) > MAX_RECIPIENT_LENGTH:
        return f"recipient is longer than {MAX_RECIPIENT_LENGTH} characters"
    if _CONTROL_CHARACTERS.search(value):
        return "recipient contains control characters"
    return None


_SCALARS = frozenset({str, int, float, bool, type(None)})  # the fast path of the check


def _context_problem(context: object) -> str | None:
    if not isinstance(context, Mapping):
        return "context must be an object of column → value"
    for key, value in context.items():
        if type(key) is not str or not key:
            return "context keys must be non-empty strings"
        if type(value) not in _SCALARS and not isinstance(value, str | int | float | bool):
            return f"value of {key!r} must be text or a number"
        if isinstance(value, str) and "\x00" in value:
            # PostgreSQL's jsonb cannot hold it: refused on every database alike.
            return f"value of {key!r} contains a NUL character"
        if isinstance(value, float) and not math.isfinite(value):
            return f"value of {key!r} must be a finite number"  # JSON has no NaN or infinity
    return None


def _blank(value: object) -> bool:
    """A value that would render as nothing ("Hi , welcome")."""
    return value is None or (isinstance(value, str) and not value.strip())


class Checker:
    """Checks rows one at a time as they stream in. Keeps only what a report
    needs: the errors, and the lines missing each placeholder."""

    def __init__(self, template_body: str, channel: Channel | None = None) -> None:
        # The channel's own rule for addresses, if it has one (whatsapp: a
        # phone number); no call per row for channels that take any address.
        own = channel is not None and (
            type(channel).recipient_problem is not Channel.recipient_problem
        )
        self.channel_problem = channel.recipient_problem if own else None
        self.errors: list[LineError] = []
        self.needed = sorted(template_placeholders(template_body) - {"recipient"})
        self.missing: dict[str, list[int]] = {name: [] for name in self.needed}
        self.passed = 0  # lines whose recipient and context are fine

    def check(self, row: "RecipientRow | LineError") -> str | None:
        """The row's recipient, stripped; None for a line that is refused
        outright (a ``LineError`` in the stream is a line that did not parse)."""
        if isinstance(row, LineError):
            self.errors.append(row)
            return None
        recipient = row.recipient.strip() if isinstance(row.recipient, str) else ""
        problem = _recipient_problem(recipient) or _context_problem(row.context)
        if problem is None and self.channel_problem is not None:
            problem = self.channel_problem(recipient)
        if problem:
            self.errors.append(LineError(row.line, problem))
            return None
        self.passed += 1
        context = row.context
        for name in self.needed:
            if name not in context:
                self.missing[name].append(row.line)
            elif _blank(context[name]):
                self.errors.append(LineError(row.line, f"empty value for placeholder {name!r}"))
        return recipient

    def finish(self, *, unique: int) -> list[LineError]:
        """Every error, by line, once the last row has been checked."""
        errors = list(self.errors)
        for name, lines in sorted(self.missing.items()):
            if not lines:
                continue
            if len(lines) >= self.passed:
                errors.append(
                    LineError(
                        0,
                        f"Unknown placeholder {{{{ {name} }}}}: the recipients have no "
                        f"{name!r} column",
                    )
                )
            else:
                errors.extend(
                    LineError(line, f"no value for placeholder {name!r}") for line in lines
                )
        if not unique and not errors:
            errors.append(LineError(0, "No recipients: add at least one"))
        errors.sort(key=lambda e: e.line)
        return errors


def with_too_many(errors: list[LineError], unique: int) -> list[LineError]:
    too_many = LineError(0, f"Too many recipients: {unique} > {settings.MAX_BATCH_RECIPIENTS}")
    return sorted([*errors, too_many], key=lambda e: e.line)


def channel_unavailable(channel: str) -> str | None:
    """Why no batch can be sent on ``channel`` from this server (unknown, or
    its settings missing), or None. The form does not offer such channels."""
    if channel not in CHANNELS:
        return f"Unknown channel {channel!r}; known: {', '.join(sorted(CHANNELS))}"
    if channel == "webhook" and not settings.WEBHOOK_URL:
        return "The webhook channel needs WEBHOOK_URL to be set"
    if channel == "whatsapp" and not (
        settings.WHATSAPP_PHONE_NUMBER_ID and settings.WHATSAPP_ACCESS_TOKEN
    ):
        return (
            "The whatsapp channel needs WHATSAPP_PHONE_NUMBER_ID and "
            "WHATSAPP_ACCESS_TOKEN to be set"
        )
    return None


def validate_recipients(
    rows: Iterable[RecipientRow], *, template_body: str
) -> tuple[list[RecipientRow], int]:
    """Check rows held in memory; returns (unique rows, duplicates removed) or
    raises ``BatchValidationError`` listing every bad line (what
    ``batch_create`` checks as it streams)."""
    checker = Checker(template_body)
    unique: list[RecipientRow] = []
    seen: set[str] = set()
    duplicates = 0
    for row in rows:
        recipient = checker.check(row)
        if recipient is None:
            continue
        key = recipient.casefold()
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        unique.append(RecipientRow(row.line, recipient, dict(row.context)))
    errors = checker.finish(unique=len(unique))
    if len(unique) > settings.MAX_BATCH_RECIPIENTS:
        raise TooManyRecipients(with_too_many(errors, len(unique)))
    if errors:
        raise BatchValidationError(errors)
    return unique, duplicates


def request_digest(name: str, template_id: int | None, channel: str, priority: int):
    """The running hash of a request: its head, then its rows (``digest_rows``)."""
    digest = hashlib.sha256()
    head = [(name or "").strip(), template_id, channel, priority]
    digest.update(json.dumps(head, ensure_ascii=False).encode())
    return digest


def _as_json(value: object) -> object:
    # A row's default context (read-only) as the empty dict it stands for;
    # anything else JSON cannot write as its text, as before.
    return dict(value) if isinstance(value, MappingProxyType) else str(value)


# What json.dumps(item, sort_keys=True, ensure_ascii=False, default=str)
# writes (the fingerprints kept on batches were made so), with one encoder
# instead of a new one per row.
_encode_row = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_as_json).encode


def digest_rows(digest, rows: Iterable) -> None:
    """Add each row of ``rows`` to ``digest`` (lines that did not parse are
    not part of it), in one update: the same hash as a row at a time."""
    encode = _encode_row
    digest.update(
        "".join(
            [encode([r.recipient, r.context]) for r in rows if r.__class__ is not LineError]
        ).encode()
    )
