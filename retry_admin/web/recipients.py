"""Recipients pasted or uploaded as CSV, parsed into ``RecipientRow``s with
1-based line numbers so that every error points at the line to fix.

Accepted: a header line naming a ``recipient`` column plus any context
columns (``recipient,name,code``), or, when pasted, just one address per line.
"""

import csv
import io
from dataclasses import dataclass, field
from itertools import islice

from retry_admin.services.batches import LineError, RecipientRow

MAX_ERRORS = 1000
HEADER_HINT = "e.g. recipient,name,code"


class RecipientsUnreadable(ValueError):
    """The input as a whole cannot be read (empty, not UTF-8, no header)."""


@dataclass
class ParsedRecipients:
    rows: list[RecipientRow] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)  # context columns

    def error(self, line: int, message: str) -> None:
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(LineError(line, message))


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecipientsUnreadable(
            f"The file is not UTF-8 text (byte 0x{data[exc.start]:02x} at position "
            f"{exc.start:,} cannot be read). Save it as “CSV UTF-8” and upload it again."
        ) from None


DELIMITERS = ",;\t"
SNIFF_BYTES = 8192


def _delimiter(text: str) -> str:
    """The file's separator: a comma, or what ``csv.Sniffer`` finds (a
    spreadsheet saving "CSV" in many locales writes semicolons), taken only if
    it makes the header line name a ``recipient`` column."""
    sample = text[:SNIFF_BYTES]
    header = next((line for line in sample.splitlines() if line.strip()), "")
    if "recipient" not in header.lower():
        return ","
    try:
        found = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ","
    names = next(csv.reader([header], delimiter=found), [])
    return found if "recipient" in {n.strip().lower() for n in names} else ","


def _records(text: str, delimiter: str = ","):
    """(first line number, fields) of each non-blank record."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, strict=True)
    start = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield start, exc
            start = reader.line_num + 1
            continue
        if any(value.strip() for value in record):
            yield start, record
        start = reader.line_num + 1


def _header(record: list[str]) -> tuple[int, list[str]]:
    names = [name.strip() for name in record]
    lowered = [name.lower() for name in names]
    if "recipient" not in lowered:
        found = ", ".join(n for n in names if n) or "no column names"
        raise RecipientsUnreadable(
            f"The header line needs a “recipient” column ({HEADER_HINT}); found: {found}."
        )
    for position, name in enumerate(names, 1):
        if not name:
            raise RecipientsUnreadable(f"Column {position} of the header line has no name.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RecipientsUnreadable(f"The header line repeats the column {duplicates[0]!r}.")
    return lowered.index("recipient"), names


def parse_recipients(text: str, *, header_required: bool, limit: int | None = None):
    """Parse ``text``; raises ``RecipientsUnreadable`` for input that cannot be
    read at all, and collects per-line problems in ``errors``. ``limit`` stops
    after that many rows (the live preview needs only the first)."""
    text = text.lstrip("\ufeff")
    records = _records(text, _delimiter(text))
    first = next(records, None)
    if first is None:
        raise RecipientsUnreadable(
            "The CSV file is empty." if header_required else "Add at least one recipient."
        )
    line, record = first
    if isinstance(record, csv.Error):
        raise RecipientsUnreadable(f"Line {line} cannot be read as CSV: {record}.")
    parsed = ParsedRecipients()
    looks_like_header = any(name.strip().lower() == "recipient" for name in record)
    if looks_like_header or header_required:
        index, names = _header(record)
        parsed.columns = [n for i, n in enumerate(names) if i != index]
        body = records
    elif len(record) == 1:
        index, names = 0, None
        body = _chain_first(first, records)
    else:
        raise RecipientsUnreadable(
            f"Line {line} has several values but is not a header: start with a header "
            f"line naming a “recipient” column ({HEADER_HINT}), or paste one address per line."
        )
    for line, record in islice(body, limit):
        if isinstance(record, csv.Error):
            parsed.error(line, f"cannot be read as CSV ({record})")
        elif names is None:
            if len(record) > 1:
                parsed.error(
                    line,
                    "has a comma: paste one address per line, or add a header line "
                    f"({HEADER_HINT})",
                )
            else:
                parsed.rows.append(RecipientRow(line, record[0].strip(), {}))
        elif len(record) != len(names):
            parsed.error(
                line,
                f"has {len(record)} value{'s' if len(record) != 1 else ''} but the header "
                f"names {len(names)} columns ({', '.join(names)})",
            )
        else:
            context = {
                n: v.strip()
                for i, (n, v) in enumerate(zip(names, record, strict=True))
                if i != index
            }
            parsed.rows.append(RecipientRow(line, record[index].strip(), context))
    return parsed


def _chain_first(first, rest):
    yield first
    yield from rest
