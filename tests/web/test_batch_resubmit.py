"""The batch form sent again from the browser's history (Back, then "Create
and send"), which carries a new idempotency key: one batch, and a question."""

import pytest

from retry_admin.models import Batch, MessageLog
from tests.web.conftest import RECIPIENTS_CSV, batch_form

pytestmark = pytest.mark.django_db

CSV = RECIPIENTS_CSV


def _form(template, **extra) -> dict:
    return batch_form(template, **{"recipients": CSV, **extra})


def test_the_same_form_again_under_a_new_key_asks_instead_of_creating(super_client, template):
    super_client.post("/batches/new/", _form(template))
    first = Batch.objects.get()

    again = super_client.post("/batches/new/", _form(template))

    html = again.content.decode()
    assert again.status_code == 409
    assert f'This looks like <a href="/batches/{first.pk}/">batch #{first.pk}</a>' in html
    assert "Nothing new was created." in html and 'name="create_another"' in html
    assert "ada@example.com,Ada" in html  # the form keeps what it holds
    assert Batch.objects.count() == 1 and MessageLog.objects.count() == 2


def test_creating_another_is_an_explicit_choice(super_client, template):
    super_client.post("/batches/new/", _form(template))

    super_client.post("/batches/new/", _form(template, create_another="1"))

    assert Batch.objects.count() == 2 and MessageLog.objects.count() == 4


def test_other_content_or_another_user_is_not_a_repeat(super_client, system_client, template):
    super_client.post("/batches/new/", _form(template))

    other = super_client.post(
        "/batches/new/", _form(template, recipients="recipient,name\nx@example.com,X\n")
    )
    someone_else = system_client.post("/batches/new/", _form(template))

    assert other.status_code == 302 and someone_else.status_code == 302
    assert Batch.objects.count() == 3
