"""Recipients pasted or uploaded as CSV, parsed into ``RecipientRow``s with
1-based line numbers so that every error points at the line to fix.

Accepted: a header line naming a ``recipient`` column plus any context
columns (``recipient,name,code``), or, when pasted, just one address per line.

An uploaded file is never read into memory whole: ``RecipientSource`` parses
it a line at a time, from its start each time it is asked for rows (Django
keeps an upload over ``FILE_UPLOAD_MAX_MEMORY_SIZE`` in a temporary file).
"""

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain, islice

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


def _not_utf8(byte: int, position: int) -> RecipientsUnreadable:
    return RecipientsUnreadable(
        f"The file is not UTF-8 text (byte 0x{byte:02x} at position {position:,} cannot be "
        "read). Save it as “CSV UTF-8” and upload it again."
    )


def decode_upload(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _not_utf8(data[exc.start], exc.start) from None


def check_utf8(chunks: Iterable[bytes]) -> None:
    """Raise ``RecipientsUnreadable`` naming the first byte that is not UTF-8,
    reading ``chunks`` one at a time."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    position = 0  # bytes given to the decoder so far
    for chunk in chain(chunks, [b""]):
        pending = decoder.getstate()[0]  # the start of a character cut by the chunk
        try:
            decoder.decode(chunk, final=not chunk)
        except UnicodeDecodeError as exc:
            raise _not_utf8(exc.object[exc.start], position - len(pending) + exc.start) from None
        position += len(chunk)


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


def _records(lines: Iterable[str], delimiter: str = ","):
    """(first line number, fields) of each non-blank record."""
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
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


class RecipientSource:
    """Recipients to be read from pasted text or an uploaded file. Checks the
    header (``RecipientsUnreadable`` if the input cannot be read at all) when
    made; ``rows()`` then parses from the start, one line at a time, giving a
    ``RecipientRow`` per good line and a ``LineError`` per bad one."""

    def __init__(self, lines: Callable[[], Iterator[str]], *, header_required: bool) -> None:
        self.lines = lines  # a new iterator over the text's lines, from its start
        self.header_required = header_required
        head = "".join(islice(self.lines(), 0, 200))[:SNIFF_BYTES]
        self.delimiter = _delimiter(head)
        self.columns, _ = self._start()

    @classmethod
    def from_text(cls, text: str, *, header_required: bool) -> "RecipientSource":
        text = text.lstrip("\ufeff")
        return cls(lambda: iter(io.StringIO(text, newline="")), header_required=header_required)

    @classmethod
    def from_upload(cls, upload) -> "RecipientSource":
        """An uploaded file (header required), checked to be UTF-8 throughout."""
        check_utf8(upload.chunks())

        def lines() -> Iterator[str]:
            upload.seek(0)
            first = True
            # Split at b"\n", which is never part of another UTF-8 character.
            for raw in upload.file:
                line = raw.decode("utf-8")
                yield line.lstrip("\ufeff") if first else line
                first = False

        return cls(lines, header_required=True)

    def _start(self):
        """(context columns, the rows after the header) of a fresh read."""
        records = _records(self.lines(), self.delimiter)
        first = next(records, None)
        if first is None:
            raise RecipientsUnreadable(
                "The CSV file is empty." if self.header_required else "Add at least one recipient."
            )
        line, record = first
        if isinstance(record, csv.Error):
            raise RecipientsUnreadable(f"Line {line} cannot be read as CSV: {record}.")
        looks_like_header = any(name.strip().lower() == "recipient" for name in record)
        if looks_like_header or self.header_required:
            index, names = _header(record)
            columns = [n for i, n in enumerate(names) if i != index]
            return columns, _rows(records, index, names)
        if len(record) == 1:
            return [], _rows(_chain_first(first, records), 0, None)
        raise RecipientsUnreadable(
            f"Line {line} has several values but is not a header: start with a header "
            f"line naming a “recipient” column ({HEADER_HINT}), or paste one address per line."
        )

    def rows(self) -> Iterator[RecipientRow | LineError]:
        return self._start()[1]

    def line_texts(self, numbers: set[int]) -> dict[int, str]:
        """The text of the lines numbered ``numbers`` (1-based), for showing
        them beside their errors."""
        texts = {}
        if numbers:
            last = max(numbers)
            for number, line in enumerate(self.lines(), 1):
                if number in numbers:
                    texts[number] = line.rstrip("\r\n")
                if number >= last:
                    break
        return texts


def _rows(body, index: int, names: list[str] | None) -> Iterator[RecipientRow | LineError]:
    context_names = [n for i, n in enumerate(names) if i != index] if names is not None else []
    for line, record in body:
        if isinstance(record, csv.Error):
            yield LineError(line, f"cannot be read as CSV ({record})")
        elif names is None:
            if len(record) > 1:
                yield LineError(
                    line,
                    "has a comma: paste one address per line, or add a header line "
                    f"({HEADER_HINT})",
                )
            else:
                yield RecipientRow(line, record[0].strip(), {})
        elif len(record) != len(names):
            yield LineError(
                line,
                f"has {len(record)} value{'s' if len(record) != 1 else ''} but the header "
                f"names {len(names)} columns ({', '.join(names)})",
            )
        else:
            recipient = record.pop(index)  # the rest, in order, are the context's values
            context = dict(zip(context_names, map(str.strip, record), strict=True))
            yield RecipientRow(line, recipient.strip(), context)


def parse_recipients(text: str, *, header_required: bool, limit: int | None = None):
    """Parse ``text`` into memory (the live preview, which reads only the
    first rows); raises ``RecipientsUnreadable`` for input that cannot be read
    at all, and collects per-line problems in ``errors``. ``limit`` stops
    after that many rows."""
    source = RecipientSource.from_text(text, header_required=header_required)
    parsed = ParsedRecipients(columns=source.columns)
    for row in source.rows():
        if isinstance(row, LineError):
            parsed.error(row.line, row.message)
        else:
            parsed.rows.append(row)
            if limit is not None and len(parsed.rows) >= limit:
                break
    return parsed


def _chain_first(first, rest):
    yield first
    yield from rest
