"""On SQS and Azure (moto and Azurite, over real HTTP) a new batch is
answered once its logs are committed; a background task enqueues them
afterwards, and the batch page shows how far it got."""

import json
import time

import pytest
from django.test import Client
from django_q.models import OrmQ

from retry_admin.models import MessageLog
from retry_admin.queues import get_backend
from tests.api.conftest import bearer
from tests.conftest import run_queued_tasks
from tests.queues.conftest import point_at

pytestmark = pytest.mark.django_db(transaction=True)

TASK = "retry_admin.services.dispatch.dispatch_batch_task"


@pytest.fixture(params=["sqs", "azure"])
def remote(request, settings):
    point_at(settings, request, request.param)
    backend = get_backend()
    backend.ensure()
    return backend


def _post(user, count: int):
    body = {
        "template": "Greeting",
        "name": "Background",
        "recipients": [{"recipient": f"+4477{i:08d}", "name": f"P{i}"} for i in range(count)],
    }
    started = time.monotonic()
    response = bearer(user).post("/api/batches/", json.dumps(body), content_type="application/json")
    return response, time.monotonic() - started


def _page(user, batch_id: int) -> str:
    client = Client()
    client.force_login(user)
    return client.get(f"/batches/{batch_id}/").content.decode()


def test_10000_recipients_are_answered_before_any_is_enqueued(
    remote, template, super_admin, monkeypatch
):
    sent = []
    real_send = type(remote).send

    def counted(self, bodies, **kwargs):
        sent.append(len(bodies))
        return real_send(self, bodies, **kwargs)

    monkeypatch.setattr(type(remote), "send", counted)
    response, seconds = _post(super_admin, 10_000)

    assert response.status_code == 201, response.content[:300]
    batch_id = response.json()["id"]
    assert sent == []  # not one message sent inside the request
    assert remote.depth().total == 0
    assert MessageLog.objects.needing_dispatch().filter(batch_id=batch_id).count() == 10_000
    assert [q.task["func"] for q in OrmQ.objects.all()] == [TASK]
    # Inline, 1,000 SendMessageBatch calls to moto take minutes; committed and
    # answered this takes about a second on an idle machine.
    print(f"\n{remote.name}: 10,000 recipients answered in {seconds:.2f} s")
    assert seconds < 10
    assert "Enqueued <strong>0</strong> of 10,000" in _page(super_admin, batch_id)


def test_the_background_task_enqueues_the_batch_and_the_page_says_so(remote, template, super_admin):
    response, _ = _post(super_admin, 120)
    batch_id = response.json()["id"]

    assert run_queued_tasks() == [(TASK, {"enqueued": 120, "error": ""})]

    assert remote.depth().total == 120
    assert MessageLog.objects.needing_dispatch().count() == 0
    page = _page(super_admin, batch_id)
    assert "enqueue-progress" not in page
