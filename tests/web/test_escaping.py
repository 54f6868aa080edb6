"""Text from recipients, templates and errors is escaped everywhere it is
shown (the browser test checks that nothing runs; this checks every page)."""

import pytest

from retry_admin.models import MessageLog, Status, Template
from retry_admin.services.batches import RecipientRow, batch_create

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert('x')</script>"


@pytest.fixture
def hostile(django_capture_on_commit_callbacks, super_admin):
    template = Template.objects.create(name=f"T {PAYLOAD}", body=f"Hi {{{{ name }}}} {PAYLOAD}")
    with django_capture_on_commit_callbacks(execute=True):
        batch = batch_create(
            name=f"B {PAYLOAD}",
            template=template,
            recipients=[RecipientRow(1, f"{PAYLOAD}@example.com", {"name": PAYLOAD})],
            user=super_admin,
        ).batch
    MessageLog.objects.update(
        status=Status.PERMANENTLY_FAILED,
        last_error=f"Provider said {PAYLOAD}",
        error_signature=f"Provider said {PAYLOAD}",
    )
    return batch


def test_no_page_renders_the_payload_as_markup(super_client, hostile):
    message = MessageLog.objects.get()
    urls = [
        "/",
        "/messages/",
        f"/messages/{message.pk}/",
        "/failures/",
        "/dlq/",
        "/batches/",
        f"/batches/{hostile.pk}/",
        "/batches/new/",
        "/health/",
        f"/messages/?error={PAYLOAD}",
    ]
    for url in urls:
        html = super_client.get(url).content.decode()
        assert PAYLOAD not in html, url
    detail = super_client.get(f"/messages/{message.pk}/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in detail


def test_fragments_escape_too(super_client, hostile):
    message = MessageLog.objects.get()
    responses = [
        super_client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true"),
        super_client.post("/failures/bulk/preview/", {"status": "pending"}),
        super_client.post(
            "/batches/new/preview/",
            {"template": hostile.template_id, "recipients": f"recipient,name\n{PAYLOAD},{PAYLOAD}"},
        ),
    ]
    for response in responses:
        assert PAYLOAD not in response.content.decode()
