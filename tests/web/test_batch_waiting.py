"""A batch is done only when nothing is left to send or retry: one whose
failed messages wait for the retry cycle says so, and when that runs."""

import re

import pytest
from django.core.management import call_command

from retry_admin.models import MessageLog, Status
from retry_admin.schedules import RETRY_CYCLE, next_run
from retry_admin.templatetags.console import stamp

pytestmark = pytest.mark.django_db


@pytest.fixture
def waiting_batch(make_batch):
    """Three sent, one failed (transient): the retry cycle will take it."""
    call_command("setup_retry_admin", verbosity=0)
    batch = make_batch(4)
    first = MessageLog.objects.filter(batch=batch).order_by("id").first()
    MessageLog.objects.filter(batch=batch).exclude(pk=first.pk).update(status=Status.SENT)
    MessageLog.objects.filter(pk=first.pk).update(status=Status.FAILED, last_error="Timeout")
    return batch


def test_the_list_says_waiting_for_retry_not_done(super_client, waiting_batch):
    html = super_client.get("/batches/").content.decode()

    assert "✓ done" not in html
    assert f"waiting for retry (next cycle at {stamp(next_run(RETRY_CYCLE))})" in html


def test_the_batch_page_says_what_waits_and_when(super_client, waiting_batch):
    html = super_client.get(f"/batches/{waiting_batch.pk}/").content.decode()
    summary = re.search(r'data-testid="progress-summary">(.*?)</span>\n', html, re.S).group(1)

    assert "Complete" not in summary
    assert "Waiting for retry" in summary and "1</strong> failed message" in summary
    assert f"next cycle at {stamp(next_run(RETRY_CYCLE))}" in summary


def test_a_batch_with_nothing_left_is_done(super_client, waiting_batch):
    MessageLog.objects.filter(batch=waiting_batch).update(status=Status.PERMANENTLY_FAILED)

    assert "✓ done" in super_client.get("/batches/").content.decode()
    assert "Complete" in super_client.get(f"/batches/{waiting_batch.pk}/").content.decode()
