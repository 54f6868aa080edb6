"""A form larger than the console reads gets a page that names the limit (not
Django's bare "Bad Request" from the CSRF check), and changes nothing; the CSV
upload limit reads the same "50 MB" in the form, its error and the docs."""

import re
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from retry_admin.models import Batch, MessageLog
from retry_admin.web.forms import MAX_UPLOAD_BYTES, BatchForm

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def csrf_client(super_admin) -> Client:
    """Checks CSRF tokens as a browser's requests are checked (the CSRF check
    is where an oversized body used to fail)."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(super_admin)
    return client


def _token(client: Client) -> str:
    html = client.get("/batches/new/").content.decode()
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def _paste(size: int) -> str:
    line = "recipient\n"
    rows = "".join(f"user{i:08d}@example.com\n" for i in range(size // 26 + 1))
    return line + rows


def test_it_names_the_paste_limit_instead_of_a_bare_bad_request(csrf_client, template, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    form = {
        "csrfmiddlewaretoken": _token(csrf_client),
        "name": "Too big",
        "template": template.pk,
        "channel": "log",
        "recipients": _paste(100 * 1024),
        "idempotency_key": uuid.uuid4().hex,
    }

    response = csrf_client.post("/batches/new/", form)

    html = response.content.decode()
    assert response.status_code == 413
    assert "Nothing was created" in html
    assert "64 KB" in html  # the limit, as the setting says
    assert "upload them as a CSV file" in html
    assert "csv_file" in html  # the form itself, to try again
    assert not Batch.objects.exists() and not MessageLog.objects.exists()


def test_the_preview_names_the_paste_limit_too(csrf_client, template, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    token = _token(csrf_client)

    response = csrf_client.post(
        "/batches/new/preview/",
        {"template": template.pk, "recipients": _paste(100 * 1024)},
        HTTP_HX_REQUEST="true",
        HTTP_X_CSRFTOKEN=token,
    )

    assert response.status_code == 200
    assert "64 KB" in response.content.decode()


def test_any_other_oversized_console_form_gets_a_page_naming_the_limit(
    csrf_client, settings, batch_with_failures
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    data = {"csrfmiddlewaretoken": _token(csrf_client), "ids": ["x" * 100] * 50}

    response = csrf_client.post("/messages/retry/", data)

    assert response.status_code == 413
    assert "1 KB" in response.content.decode()
    assert "Nothing was changed" in response.content.decode()


def test_an_anonymous_oversized_post_is_sent_to_sign_in(settings, db):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = Client(enforce_csrf_checks=True).post("/batches/new/", {"recipients": "x" * 4096})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_upload_limit_is_50_mb_in_code_page_and_docs(template, super_client):
    assert MAX_UPLOAD_BYTES == 50 * 1024 * 1024
    big = SimpleUploadedFile("big.csv", b"x" * (51 * 1024 * 1024), content_type="text/csv")
    form = BatchForm(
        {"name": "Big", "template": template.pk, "channel": "log", "idempotency_key": "k"},
        {"csv_file": big},
    )

    assert not form.is_valid()
    assert form.errors["csv_file"] == ["The file is 51.0 MB; the limit is 50 MB."]
    assert "up to 50 MB" in super_client.get("/batches/new/").content.decode()
    assert "50 MB" in (ROOT / "docs" / "console.md").read_text()
