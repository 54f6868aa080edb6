"""JSON request bodies, bounded: a size limit per view (413 past it, naming
the limit) and a nesting limit (400), so that no body can make the API fail
with a 500 or hold a worker parsing it.

A body may come gzip-compressed (``Content-Encoding: gzip``): it is inflated
as it is read, and the view's limit applies to the JSON it inflates to (so a
small compressed body cannot expand without bound), as well as to the bytes
sent. A stream that is not gzip, or is cut short, answers 400."""

import json
import zlib

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import BaseParser

# The deepest body the API takes is three levels ({"recipients": [{...}]}).
MAX_JSON_DEPTH = 16
# Room per recipient in a batch body: a 320-character address, or an address
# and a few context values; 200,000 recipients make 51.2 MB.
BATCH_BYTES_PER_RECIPIENT = 256


# Read (and inflate) the body this many bytes at a time.
READ_BYTES = 64 * 1024
ENCODINGS = ("gzip",)


class BodyRefused(APIException):
    """A body the API will not read: 413 too large, 415 an unknown encoding."""

    def __init__(self, status_code: int, detail: str) -> None:
        self.status_code = status_code
        super().__init__(detail)


def default_body_limit() -> int:
    """Every endpoint but batch creation: Django's own request body limit."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def batch_body_limit() -> int:
    """Sized so that a batch of MAX_BATCH_RECIPIENTS fits in one request."""
    return max(settings.MAX_BATCH_RECIPIENTS * BATCH_BYTES_PER_RECIPIENT, default_body_limit())


def _too_deep(data, limit: int) -> bool:
    """Whether containers nest more than ``limit`` levels (iteratively: a
    recursive walk is what deep JSON is meant to break)."""
    stack = [(data, 1)] if isinstance(data, dict | list) else []
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        for child in value.values() if isinstance(value, dict) else value:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


class BoundedJSONParser(BaseParser):
    """``application/json`` read straight from the request stream, at most
    ``view.max_body_bytes()`` bytes (not through ``request.body``, whose limit
    is Django's one for every request)."""

    media_type = "application/json"

    def parse(self, stream, media_type=None, parser_context=None):
        context = parser_context or {}
        request = context.get("request")
        encoding = request.headers.get("Content-Encoding", "") if request is not None else ""
        encoding = encoding.strip().lower()
        if encoding not in ("", "identity", *ENCODINGS):
            raise BodyRefused(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                f"Content-Encoding {encoding[:40]!r} is not supported: send the JSON "
                "uncompressed or gzip-compressed (Content-Encoding: gzip).",
            )
        view = context.get("view")
        limit = view.max_body_bytes() if hasattr(view, "max_body_bytes") else default_body_limit()
        raw = _read_gzip(stream, limit) if encoding == "gzip" else _read(stream, limit)
        try:
            data = json.loads(
                raw.decode(context.get("encoding", settings.DEFAULT_CHARSET)),
                parse_constant=_refuse_constant,
            )
        except RecursionError:
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.") from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None
        if _too_deep(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON nested more than {MAX_JSON_DEPTH} levels deep.")
        return data


def _too_large(limit: int, what: str = "The request body") -> BodyRefused:
    return BodyRefused(
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        f"{what} is too large: this endpoint takes at most {limit:,} bytes.",
    )


def _read(stream, limit: int) -> bytes:
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise _too_large(limit)
    return raw


def _read_gzip(stream, limit: int) -> bytes:
    """Inflate a gzip body as it is read: at most ``limit`` bytes sent and
    ``limit`` bytes of JSON out of them (a "zip bomb" stops at the limit)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
    out = bytearray()
    read = 0
    while True:
        chunk = stream.read(READ_BYTES)
        if not chunk:
            break
        read += len(chunk)
        if read > limit:
            raise _too_large(limit)
        while chunk:
            try:
                out += inflater.decompress(chunk, limit + 1 - len(out))
            except zlib.error as exc:
                raise ParseError(f"The body is not valid gzip ({exc}).") from None
            if len(out) > limit:
                raise _too_large(limit, "The request body, inflated,")
            chunk = inflater.unconsumed_tail
        if inflater.eof:
            rest = stream.read(limit + 1 - read)
            if read + len(rest) > limit:
                raise _too_large(limit)
            if inflater.unused_data or rest:
                raise ParseError("The body has bytes after the end of its gzip stream.")
            break
    if not inflater.eof:
        raise ParseError("The gzip body is cut short: its stream does not end.")
    return bytes(out)
