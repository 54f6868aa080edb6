"""Forms and input parsing for the console's actions."""

import re
import uuid
from collections.abc import Iterable

from django import forms
from django.conf import settings

from retry_admin import selectors
from retry_admin.channels.registry import CHANNEL_CHOICES
from retry_admin.filters import unique
from retry_admin.services.batches import channel_unavailable
from retry_admin.web.recipients import RecipientSource, RecipientsUnreadable

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # "50 MB": sizes on the console count 1 MB as 1024²
MAX_IDS = 1000


def size_label(size: int) -> str:
    """Bytes as the console shows sizes and limits: ``50 MB``, ``2.5 MB``, ``64 KB``."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.4g} MB"
    return f"{size / 1024:.4g} KB"


def parse_uuids(values: Iterable[str], *, limit: int = MAX_IDS) -> list[uuid.UUID]:
    """Message ids from a form; anything that is not a UUID is ignored."""
    ids = []
    for value in values:
        try:
            ids.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return unique(ids)[:limit]


_ENTRY_ID = re.compile(r"^[A-Za-z0-9:_.+/=-]{1,256}$")


def parse_entry_ids(values: Iterable[str], *, limit: int = MAX_IDS) -> list[str]:
    """DLQ entry ids: opaque strings of the queue backend; anything odd is dropped."""
    return unique(v.strip() for v in values if _ENTRY_ID.match(v.strip()))[:limit]


class BatchForm(forms.Form):
    name = forms.CharField(max_length=200, help_text="Shown in lists, e.g. “November welcome”.")
    template = forms.ModelChoiceField(
        queryset=selectors.templates(), empty_label="Choose a template…"
    )
    channel = forms.ChoiceField(choices=CHANNEL_CHOICES)
    recipients = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="One per line: a header line (recipient,name,code) then one recipient per "
        "line, or just one address per line.",
    )
    csv_file = forms.FileField(
        required=False,
        label="or upload a CSV file",
        help_text=f"UTF-8, up to {size_label(MAX_UPLOAD_BYTES)}, comma- or semicolon-separated, "
        "with a header row that has a “recipient” column; the other columns become template "
        "values.",
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=100)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        channel = self.fields["channel"]
        channel.initial = settings.DEFAULT_CHANNEL
        # A channel whose settings are missing could only fail: do not offer it.
        unavailable = [why for name, _ in CHANNEL_CHOICES if (why := channel_unavailable(name))]
        if unavailable:
            channel.choices = [(k, v) for k, v in CHANNEL_CHOICES if not channel_unavailable(k)]
            channel.error_messages["invalid_choice"] = (
                "“%(value)s” is not a channel this server can send on ("
                + "; ".join(why[0].lower() + why[1:] for why in unavailable).replace("%", "%%")
                + ")."
            )
        # Set by clean(): where the recipients are read from, a line at a time.
        self.source: RecipientSource | None = None

    def clean_csv_file(self):
        upload = self.cleaned_data.get("csv_file")
        if upload and upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit is "
                f"{size_label(MAX_UPLOAD_BYTES)}."
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        text = cleaned.get("recipients") or ""
        upload = cleaned.get("csv_file")
        if "csv_file" in self.errors:
            return cleaned
        if upload and text.strip():
            raise forms.ValidationError(
                "Paste recipients or upload a CSV file, not both: clear one of them."
            )
        try:
            if upload:
                # Read a line at a time from Django's temporary file, never whole.
                self.source = RecipientSource.from_upload(upload)
                field = "csv_file"
            elif text.strip():
                self.source = RecipientSource.from_text(text, header_required=False)
                field = "recipients"
            else:
                raise forms.ValidationError("Add recipients: paste them or upload a CSV file.")
        except RecipientsUnreadable as exc:
            self.add_error("csv_file" if upload else "recipients", str(exc))
            return cleaned
        if next(self.source.rows(), None) is None:
            self.add_error(field, "There are no recipients below the header line.")
        return cleaned


class TemplateForm(forms.Form):
    template_name = forms.CharField(max_length=200, label="Template name")
    template_body = forms.CharField(
        label="Body",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Use {{ name }} for a column of the recipients; {{ recipient }} is built in.",
    )
