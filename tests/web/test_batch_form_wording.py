"""The batch form says what it did in correct English, and offers only the
channels that can send."""

import uuid

import pytest

from retry_admin.models import Batch

pytestmark = pytest.mark.django_db


def _post(client, template, recipients: str):
    return client.post(
        "/batches/new/",
        {
            "name": "One",
            "template": template.pk,
            "channel": "log",
            "recipients": recipients,
            "idempotency_key": uuid.uuid4().hex,
        },
        follow=True,
    )


def test_one_message_and_one_duplicate_are_singular(super_client, template):
    html = _post(super_client, template, "recipient,name\na@x.io,A\nA@x.io,A\n").content.decode()

    batch = Batch.objects.get()
    assert f"Batch #{batch.pk} created: 1 message queued. 1 duplicate recipient skipped." in html


def test_several_are_plural(super_client, template):
    html = _post(
        super_client, template, "recipient,name\na@x.io,A\nb@x.io,B\na@x.io,A\nb@x.io,B\n"
    ).content.decode()

    assert "2 messages queued. 2 duplicate recipients skipped." in html


def test_the_webhook_is_offered_only_with_a_webhook_url(super_client, settings):
    settings.WEBHOOK_URL = ""
    without = super_client.get("/batches/new/").content.decode()
    settings.WEBHOOK_URL = "https://hooks.example.com/send"
    with_url = super_client.get("/batches/new/").content.decode()

    assert 'value="webhook"' not in without and 'value="simulated"' in without
    assert 'value="webhook"' in with_url


def test_a_forged_webhook_choice_without_a_url_is_refused_clearly(super_client, template, settings):
    settings.WEBHOOK_URL = ""
    response = super_client.post(
        "/batches/new/",
        {
            "name": "One",
            "template": template.pk,
            "channel": "webhook",
            "recipients": "a@x.io",
            "idempotency_key": uuid.uuid4().hex,
        },
    )

    assert response.status_code == 400
    assert "WEBHOOK_URL" in response.content.decode()
    assert not Batch.objects.exists()
