"""The Django admin is for looking: evidence and queue rows cannot be
changed or deleted there, not even by a superuser."""

import pytest

from retry_admin.models import AuditEvent, MessageLog, QueueMessage, RetryRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", password="pw-root")
    client.force_login(user)
    return client


@pytest.fixture
def rows(make_batch, super_admin):
    make_batch(2)
    AuditEvent.objects.create(actor_name="super", action=AuditEvent.Action.DLQ_PURGE, target="x")
    RetryRun.objects.create(trigger=RetryRun.Trigger.COMMAND)
    return {
        "auditevent": AuditEvent.objects.get().pk,
        "queuemessage": QueueMessage.objects.first().pk,
        "retryrun": RetryRun.objects.get().pk,
        "messagelog": MessageLog.objects.first().pk,
    }


@pytest.mark.parametrize("model", ["auditevent", "queuemessage", "retryrun", "messagelog"])
def test_a_superuser_can_look_but_not_delete_or_change(superuser_client, rows, model):
    pk = rows[model]
    base = f"/admin/retry_admin/{model}/"

    assert superuser_client.get(base).status_code == 200
    assert superuser_client.get(f"{base}{pk}/change/").status_code == 200  # read-only view
    assert superuser_client.post(f"{base}{pk}/delete/", {"post": "yes"}).status_code == 403
    assert superuser_client.get(f"{base}add/").status_code == 403
    bulk = superuser_client.post(base, {"action": "delete_selected", "_selected_action": [pk]})
    assert bulk.status_code in (200, 302)

    Model = {
        "auditevent": AuditEvent,
        "queuemessage": QueueMessage,
        "retryrun": RetryRun,
        "messagelog": MessageLog,
    }[model]
    assert Model.objects.filter(pk=pk).exists()
