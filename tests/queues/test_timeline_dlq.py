"""A message's timeline asks the configured queue backend whether the message
is in the dead-letter queue now, on every backend (not the db queue's table)."""

import pytest
from django.test import Client

from retry_admin.models import MessageLog, Status

pytestmark = pytest.mark.django_db

IN_DLQ = "In the dead-letter queue now"


@pytest.fixture
def super_client(super_admin) -> Client:
    client = Client()
    client.force_login(super_admin)
    return client


def test_it_shows_a_dead_lettered_message_in_the_dlq_now(
    queue_backend, super_client, make_dead_lettered
):
    batch = make_dead_lettered(2)
    first, second = MessageLog.objects.filter(batch=batch).order_by("id")

    pages = [super_client.get(f"/messages/{m.pk}/").content.decode() for m in (first, second)]
    again = super_client.get(f"/messages/{first.pk}/").content.decode()

    for html in [*pages, again]:
        assert html.count(IN_DLQ) == 1


def test_it_shows_no_dlq_entry_once_the_dlq_no_longer_holds_the_message(
    queue_backend, super_client, make_dead_lettered
):
    batch = make_dead_lettered(1)
    message = MessageLog.objects.get(batch=batch)
    queue_backend.dlq_purge()  # gone from the queue behind the log's back

    html = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert MessageLog.objects.get(pk=message.pk).status == Status.DEAD_LETTERED
    assert IN_DLQ not in html
