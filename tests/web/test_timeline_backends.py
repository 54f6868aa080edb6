"""A message's timeline asks the configured queue backend whether the message
is in the dead-letter queue now, on every backend (not the db queue's table)."""

import pytest

from retry_admin.models import MessageLog, Status
from retry_admin.queues import get_backend, reset_backends
from tests.emulators import azurite, moto_endpoint  # noqa: F401 (fixtures)
from tests.queues.conftest import BACKENDS, point_at

pytestmark = pytest.mark.django_db

IN_DLQ = "In the dead-letter queue now"


@pytest.fixture(params=BACKENDS)
def on_backend(request, settings):
    """Every queue read and write of the test goes to this backend's queue."""
    point_at(settings, request, request.param)
    get_backend().ensure()
    yield request.param
    reset_backends()


def test_it_shows_a_dead_lettered_message_in_the_dlq_now(
    on_backend, super_client, make_dead_lettered
):
    batch = make_dead_lettered(2)
    first, second = MessageLog.objects.filter(batch=batch).order_by("id")

    pages = [super_client.get(f"/messages/{m.pk}/").content.decode() for m in (first, second)]
    again = super_client.get(f"/messages/{first.pk}/").content.decode()

    for html in [*pages, again]:
        assert html.count(IN_DLQ) == 1


def test_it_shows_no_dlq_entry_once_the_dlq_no_longer_holds_the_message(
    on_backend, super_client, make_dead_lettered
):
    batch = make_dead_lettered(1)
    message = MessageLog.objects.get(batch=batch)
    get_backend().dlq_purge()  # gone from the queue behind the log's back

    html = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert MessageLog.objects.get(pk=message.pk).status == Status.DEAD_LETTERED
    assert IN_DLQ not in html
