"""The message filter shared by the messages page, the failures page, bulk
retry and the API: parsed and validated here once, applied in selectors."""

import uuid
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import TypeVar

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from retry_admin import policy
from retry_admin.models import SIGNED, Status
from retry_admin.models.ids import uuid7_floor

H = TypeVar("H", bound=Hashable)


def _parse_day(raw: str) -> date | None:
    """A date, or a datetime's date; ``None`` for anything else, including
    well-formed impossible dates such as 2026-02-30 (Django raises for those)."""
    try:
        parsed = parse_date(raw)
        if parsed is None:
            as_datetime = parse_datetime(raw)
            parsed = as_datetime.date() if as_datetime else None
    except ValueError:
        return None
    return parsed


def page_cursors(params: Mapping[str, str]) -> dict[str, str | None]:
    """The keyset cursors ``after`` and ``before`` (message ids); raises
    ``ValidationError`` naming the malformed one."""
    cursors: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in ("after", "before"):
        raw = (params.get(name) or "").strip()
        cursors[name] = raw or None
        if raw:
            try:
                uuid.UUID(raw)
            except ValueError:
                errors[name] = f"Malformed page cursor {raw[:40]!r}: follow the pager's links"
    if errors:
        raise ValidationError(errors)
    return cursors


def error_texts(exc: ValidationError) -> dict[str, str]:
    """A ``ValidationError`` keyed by parameter, one sentence per parameter, for pages."""
    return {key: " ".join(value) for key, value in exc.message_dict.items()}


def unique(values: Iterable[H]) -> list[H]:
    """``values`` without repeats, in first-seen order: an id listed twice in
    a form or a request body is acted on once."""
    return list(dict.fromkeys(values))


def row_id(raw: str) -> int | None:
    """``raw`` as a row id if it is a plain number that fits a bigint, else ``None``."""
    # isascii: "²".isdigit() is true, and int() refuses it.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 18 else None


def id_cursor(params: Mapping[str, str], name: str = "before") -> int | None:
    """A page cursor that is a row id (batches, audit log); raises
    ``ValidationError`` naming it when it is not a plain number."""
    raw = (params.get(name) or "").strip()
    if not raw:
        return None
    if (value := row_id(raw)) is not None:
        return value
    raise ValidationError({name: f"Malformed page cursor {raw[:40]!r}: follow the pager's links"})


@dataclass(frozen=True)
class MessageFilter:
    status: str = ""
    batch: int | None = None
    recipient: str = ""
    error: str = ""
    created_from: date | None = None
    created_to: date | None = None
    # Only messages whose data the retry cycle cannot send (policy.invalid_q):
    # the console's "invalid, skipped".
    invalid: bool = False

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> "MessageFilter":
        """Parse query parameters; raises ``ValidationError`` keyed by field."""
        errors: dict[str, str] = {}
        for name in FILTER_FIELDS:
            if "\x00" in (params.get(name) or ""):
                # PostgreSQL refuses NUL in text; no address, error or date holds one.
                errors[name] = "Must not contain a NUL character"
        if errors:
            raise ValidationError(errors)
        status = (params.get("status") or "").strip()
        if status and status not in Status.values:
            errors["status"] = (
                f"Unknown status {status[:40]!r}; use one of {', '.join(Status.values)}"
            )
        batch = None
        raw_batch = (params.get("batch") or "").strip()
        if raw_batch:
            batch = row_id(raw_batch)
            if batch is None:
                errors["batch"] = f"Batch must be a batch number, not {raw_batch[:40]!r}"
        dates = {}
        for name in ("created_from", "created_to"):
            raw = (params.get(name) or "").strip()
            if not raw:
                dates[name] = None
                continue
            parsed = _parse_day(raw)
            if parsed is None:
                errors[name] = f"{raw[:40]!r} is not a date (use YYYY-MM-DD)"
            dates[name] = parsed
        start, end = dates["created_from"], dates["created_to"]
        if not errors and start and end and start > end:
            errors["created_to"] = "The end date is before the start date"
        raw_invalid = (params.get("invalid") or "").strip().lower()
        if raw_invalid not in ("", "true", "false", "on", "1", "0"):
            errors["invalid"] = f"invalid must be true or false, not {raw_invalid[:40]!r}"
        if errors:
            raise ValidationError(errors)
        return cls(
            status=status,
            batch=batch,
            recipient=(params.get("recipient") or "").strip()[:320],
            error=(params.get("error") or "").strip()[:255],
            created_from=dates["created_from"],
            created_to=dates["created_to"],
            invalid=raw_invalid in ("true", "on", "1"),
        )

    def as_params(self) -> dict[str, str]:
        """The non-empty filters, for URLs (shareable, back button works)."""
        params = {}
        for key, value in asdict(self).items():
            if value is True:
                params[key] = "true"
            elif value is not None and value != "" and value is not False:
                params[key] = value.isoformat() if isinstance(value, date) else str(value)
        return params

    @property
    def is_empty(self) -> bool:
        return not self.as_params()

    def apply(self, qs):
        """Narrow a MessageLog queryset. Recipient is a prefix match, so it can
        use the recipient index on a million rows."""
        if self.status:
            qs = qs.filter(status=self.status)
        if self.batch is not None:
            qs = qs.filter(batch_id=self.batch)
        if self.recipient:
            qs = qs.filter(
                recipient__gte=self.recipient, recipient__lt=self.recipient + "\U0010ffff"
            )
        if self.error:
            qs = qs.filter(SIGNED, error_signature=self.error)  # SIGNED: its indexes
        if self.invalid:
            qs = qs.filter(policy.invalid_q())
        tz = timezone.get_current_timezone()
        if self.created_from:
            start = datetime.combine(self.created_from, time.min, tzinfo=tz)
            qs = qs.filter(id__gte=uuid7_floor(start))
        if self.created_to and self.created_to < date.max:  # date.max: no end
            end = datetime.combine(self.created_to + timedelta(days=1), time.min, tzinfo=tz)
            qs = qs.filter(id__lt=uuid7_floor(end))
        return qs


FILTER_FIELDS = [f.name for f in fields(MessageFilter)]
