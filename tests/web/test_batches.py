"""Batches: the list and detail with live progress, and the create form with
its preview, per-line errors, nothing created on bad input, one batch per
form however many times it is submitted."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from retry_admin.models import AuditEvent, Batch, MessageLog, QueueMessage, Template
from retry_admin.services.sender import sender_drain
from tests.web.conftest import RECIPIENTS_CSV, batch_form

pytestmark = pytest.mark.django_db

CSV = RECIPIENTS_CSV
_form = batch_form


def _upload(content: bytes, name: str = "recipients.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


def _nothing_created() -> bool:
    return not (
        Batch.objects.exists() or MessageLog.objects.exists() or QueueMessage.objects.exists()
    )


# Creating


def test_a_pasted_batch_is_created_queued_and_audited(
    super_client, template, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = super_client.post("/batches/new/", _form(template, recipients=CSV), follow=True)

    batch = Batch.objects.get()
    assert response.redirect_chain == [(f"/batches/{batch.pk}/", 302)]
    assert f"Batch #{batch.pk} created: 2 messages queued." in response.content.decode()
    assert batch.total == 2 and batch.created_by.username == "super"
    assert QueueMessage.objects.count() == 2
    assert AuditEvent.objects.filter(action="batch_create", count=2).exists()


def test_a_csv_upload_becomes_recipients_with_context(super_client, template):
    super_client.post("/batches/new/", _form(template, csv_file=_upload(CSV.encode())))

    contexts = sorted((m.recipient, m.context["name"]) for m in MessageLog.objects.all())
    assert contexts == [("ada@example.com", "Ada"), ("grace@example.com", "Grace")]


def test_just_addresses_work_with_a_template_that_needs_no_columns(super_client):
    plain = Template.objects.create(name="Plain", body="Hi {{ recipient }}")

    super_client.post("/batches/new/", _form(plain, recipients="a@example.com\nb@example.com\n"))

    assert Batch.objects.get().total == 2


def test_duplicates_are_skipped_and_said(super_client, template):
    text = "recipient,name\nada@example.com,Ada\nADA@example.com,Ada\n"

    response = super_client.post("/batches/new/", _form(template, recipients=text), follow=True)

    assert "1 duplicate recipient skipped." in response.content.decode()
    assert MessageLog.objects.count() == 1


def test_a_double_submit_creates_exactly_one_batch(
    super_client, template, django_capture_on_commit_callbacks
):
    data = _form(template, recipients=CSV)

    with django_capture_on_commit_callbacks(execute=True):
        first = super_client.post("/batches/new/", data)
        second = super_client.post("/batches/new/", data, follow=True)

    batch = Batch.objects.get()
    assert first["Location"] == f"/batches/{batch.pk}/"
    assert second.redirect_chain[-1][0] == f"/batches/{batch.pk}/"
    assert "already submitted" in second.content.decode()
    assert MessageLog.objects.count() == 2 and QueueMessage.objects.count() == 2


def test_a_resubmitted_form_with_other_recipients_says_so_and_offers_a_new_key(
    super_client, template
):
    form = _form(template, recipients=CSV)
    super_client.post("/batches/new/", form)
    batch = Batch.objects.get()

    edited = super_client.post(
        "/batches/new/", {**form, "recipients": "recipient,name\neve@example.com,Eve\n"}
    )

    html = edited.content.decode()
    assert edited.status_code == 400
    assert f"already used for batch #{batch.pk}" in html
    new_key = re.search(r'name="idempotency_key" value="([0-9a-f]{32})"', html).group(1)
    assert new_key != form["idempotency_key"]
    assert Batch.objects.count() == 1
    again = super_client.post(
        "/batches/new/",
        {**form, "recipients": "recipient,name\neve@example.com,Eve\n", "idempotency_key": new_key},
    )
    assert again.status_code == 302
    assert Batch.objects.count() == 2


def test_the_form_carries_a_fresh_idempotency_key(super_client, template):
    keys = [
        re.search(
            r'name="idempotency_key" value="([0-9a-f]{32})"',
            super_client.get("/batches/new/").content.decode(),
        ).group(1)
        for _ in range(2)
    ]

    assert keys[0] != keys[1]


# Refusing, creating nothing


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (b"", "The submitted file is empty."),
        (b"recipient,name\n", "There are no recipients below the header line."),
        (
            b"email,name\nada@example.com,Ada\n",
            "needs a “recipient” column (e.g. recipient,name,code); found: email, name",
        ),
        (b"recipient,name\n\xff\xfe\xfa,x\n", "The file is not UTF-8 text"),
    ],
)
def test_a_bad_csv_file_gets_a_clear_message_and_creates_nothing(
    super_client, template, upload, message
):
    response = super_client.post("/batches/new/", _form(template, csv_file=_upload(upload)))

    assert response.status_code == 400
    html = response.content.decode()
    assert "Nothing was created." in html
    assert message in html
    assert _nothing_created()


def test_wrong_columns_are_reported_per_line(super_client, template):
    text = "recipient,name\nada@example.com,Ada\ngrace@example.com\nalan@example.com,Alan,x\n"

    response = super_client.post("/batches/new/", _form(template, csv_file=_upload(text.encode())))

    html = response.content.decode()
    assert "2 lines need fixing" in html
    assert "Line 3</span> has 1 value but the header names 2 columns (recipient, name)" in html
    assert "<code>grace@example.com</code>" in html  # the offending line, shown
    assert "Line 4</span>" in html
    assert _nothing_created()


def test_a_50000_line_paste_with_one_bad_line_creates_nothing(super_client, template):
    lines = ["recipient,name"] + [f"u{i}@x.io,N{i}" for i in range(50_000)]
    lines[31_337] = ",Nobody"  # no recipient on file line 31,338

    response = super_client.post("/batches/new/", _form(template, recipients="\n".join(lines)))

    html = response.content.decode()
    assert response.status_code == 400
    assert "1 line needs fixing" in html
    assert "Line 31,338</span> recipient is empty" in html
    assert _nothing_created()


def test_an_unknown_placeholder_is_named(super_client):
    greeting = Template.objects.create(name="Codes", body="Hi {{ name }}, code {{ code }}")

    response = super_client.post("/batches/new/", _form(greeting, recipients=CSV))

    html = response.content.decode()
    assert "Unknown placeholder {{ code }}: the recipients have no &#x27;code&#x27; column" in html
    assert _nothing_created()


def test_missing_fields_and_both_sources_are_refused(super_client, template):
    empty = super_client.post("/batches/new/", {"idempotency_key": "k"}).content.decode()
    both = super_client.post(
        "/batches/new/", _form(template, recipients=CSV, csv_file=_upload(CSV.encode()))
    ).content.decode()

    assert "Name:</strong> This field is required." in empty
    assert "Add recipients: paste them or upload a CSV file." in empty
    assert "not both" in both
    assert _nothing_created()


def test_a_failed_submit_keeps_what_was_typed(super_client, template):
    text = "recipient,name\n,Nobody\n"

    html = super_client.post("/batches/new/", _form(template, recipients=text)).content.decode()

    assert "recipient,name\n,Nobody" in html
    assert 'value="November welcome"' in html


# The live preview and creating a template


def test_the_preview_shows_the_first_personalised_message(super_client, template):
    html = super_client.post(
        "/batches/new/preview/", {"template": template.pk, "recipients": CSV}
    ).content.decode()

    assert "First message, to <strong>ada@example.com</strong>" in html
    assert "Hello Ada!" in html


def test_the_preview_of_an_upload(super_client, template):
    html = super_client.post(
        "/batches/new/preview/", {"template": template.pk, "csv_file": _upload(CSV.encode())}
    ).content.decode()

    assert "Hello Ada!" in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "Choose a template to see the first message."),
        ({"recipients": ""}, "Add recipients to see the first personalised message."),
        ({"recipients": "recipient,code\na@x.io,1\n"}, "Unknown placeholder {{ name }}"),
        ({"recipients": "a@x.io,1\n"}, "not a header"),
    ],
)
def test_the_preview_explains_what_is_missing(super_client, template, data, message):
    data = {"template": template.pk, **data} if data else {}

    html = super_client.post("/batches/new/preview/", data).content.decode()

    assert message in html


def test_a_template_can_be_created_from_the_form(super_client):
    response = super_client.post(
        "/templates/new/", {"template_name": "Promo", "template_body": "Hi {{ name }}"}
    )

    template = Template.objects.get(name="Promo")
    html = response.content.decode()
    assert "Template “Promo” created and selected." in html
    assert f'<option value="{template.pk}" selected>Promo</option>' in html
    assert 'hx-swap-oob="true"' in html
    assert response["HX-Trigger"] == "template-created"


def test_a_bad_template_is_refused_with_the_reason(super_client, template):
    taken = super_client.post(
        "/templates/new/", {"template_name": "Greeting", "template_body": "x"}
    ).content.decode()
    malformed = super_client.post(
        "/templates/new/", {"template_name": "Broken", "template_body": "Hi {{ first name }}"}
    ).content.decode()

    assert "already exists" in taken
    assert "Malformed placeholder" in malformed
    assert Template.objects.count() == 1


# List and detail


def test_the_list_shows_progress_and_polls_while_sending(super_client, make_batch):
    make_batch(4)

    sending = super_client.get("/batches/").content.decode()
    sender_drain(until_empty=True)
    done = super_client.get("/batches/").content.decode()

    assert 'data-done="0" data-total="4"' in sending and 'hx-trigger="every 3s' in sending
    assert 'data-done="4" data-total="4"' in done and "✓ done" in done
    assert 'hx-trigger="every 3s' not in done


def test_the_detail_progress_fragment_advances(super_client, make_batch):
    batch = make_batch(3)

    before = super_client.get(f"/batches/{batch.pk}/", HTTP_HX_REQUEST="true").content.decode()
    sender_drain(until_empty=True)
    after = super_client.get(f"/batches/{batch.pk}/", HTTP_HX_REQUEST="true").content.decode()

    assert before.lstrip().startswith('<div id="batch-live"')
    assert "0</strong> of 3 done" in before
    assert "Complete" in after and 'data-testid="count-sent">3<' in after


def test_the_detail_lists_its_errors(super_client, batch_with_failures):
    MessageLog.objects.update(error_signature="Upstream gateway timeout after <n> ms")

    html = super_client.get(f"/batches/{batch_with_failures.pk}/").content.decode()

    assert "Upstream gateway timeout after &lt;n&gt; ms" in html
    assert ">Failed</span>" in html


def test_batches_empty_state_and_pages(super_client, make_batch):
    assert "No batches yet." in super_client.get("/batches/").content.decode()
    for i in range(26):
        make_batch(1, name=f"B{i}", recipients=None)

    first = super_client.get("/batches/").content.decode()
    older = re.search(r'href="\?before=(\d+)"', first).group(1)
    second = super_client.get(f"/batches/?before={older}").content.decode()

    assert first.count('data-testid="progress"') == 25
    assert second.count('data-testid="progress"') == 1
