"""A placeholder's value may not be empty: the line is refused, never sent as
"Hi , welcome aboard!" (the form, a CSV upload and the API alike)."""

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retry_admin.models import Batch, MessageLog, Template
from retry_admin.services.batches import (
    BatchValidationError,
    LineError,
    RecipientRow,
    validate_recipients,
)
from tests.api.conftest import assert_error, bearer

pytestmark = pytest.mark.django_db

BODY = "Hi {{ first_name }}, welcome aboard! Your code is {{ code }}."
CSV = "recipient,first_name,code\n+447700950029,Ada,29\n+447700950030,,30\n+447700950031, ,31\n"


@pytest.fixture
def welcome(db):
    return Template.objects.create(name="Welcome", body=BODY)


def test_it_refuses_each_line_whose_value_is_empty():
    rows = [
        RecipientRow(2, "+447700950029", {"first_name": "Ada", "code": "29"}),
        RecipientRow(3, "+447700950030", {"first_name": "", "code": "30"}),
        RecipientRow(4, "+447700950031", {"first_name": "  ", "code": None}),
    ]
    with pytest.raises(BatchValidationError) as refused:
        validate_recipients(rows, template_body=BODY)
    assert refused.value.errors == [
        LineError(3, "empty value for placeholder 'first_name'"),
        LineError(4, "empty value for placeholder 'code'"),
        LineError(4, "empty value for placeholder 'first_name'"),
    ]


def test_every_line_empty_is_still_told_per_line_not_as_a_missing_column():
    rows = [RecipientRow(2, "a@x.io", {"first_name": "", "code": "1"})]
    with pytest.raises(BatchValidationError) as refused:
        validate_recipients(rows, template_body=BODY)
    assert refused.value.errors == [LineError(2, "empty value for placeholder 'first_name'")]


def test_an_empty_value_the_template_does_not_use_is_fine():
    rows = [RecipientRow(2, "a@x.io", {"first_name": "Ada", "code": "1", "note": ""})]
    unique, _ = validate_recipients(rows, template_body=BODY)
    assert len(unique) == 1


def test_the_form_refuses_a_csv_line_with_an_empty_value(client, super_admin, welcome):
    client.force_login(super_admin)
    upload = SimpleUploadedFile("r.csv", CSV.encode(), content_type="text/csv")
    response = client.post(
        "/batches/new/",
        {
            "name": "Welcome",
            "template": welcome.pk,
            "channel": "log",
            "csv_file": upload,
            "idempotency_key": uuid.uuid4().hex,
        },
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert "Line 3</span> empty value for placeholder &#x27;first_name&#x27;" in html
    assert "Line 4</span> empty value for placeholder &#x27;first_name&#x27;" in html
    assert not Batch.objects.exists() and not MessageLog.objects.exists()


def test_the_api_refuses_an_empty_value(super_admin, welcome):
    body = {
        "template": "Welcome",
        "name": "Welcome",
        "recipients": [
            {"recipient": "+447700950029", "first_name": "Ada", "code": "29"},
            {"recipient": "+447700950030", "first_name": "", "code": "30"},
        ],
    }
    response = bearer(super_admin).post("/api/batches/", body, format="json")
    assert_error(response, 400, "empty value for placeholder 'first_name'")
    assert not Batch.objects.exists()
