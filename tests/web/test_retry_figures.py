"""Retry figures are defined once: a one-click, bulk or DLQ-replay retry
counts like the retry cycle's, and the overview, the API and the message page
agree (with the definition on hover). One number per concept, with its window."""

import pytest

from retry_admin.channels import reset_channels
from retry_admin.filters import MessageFilter
from retry_admin.models import MessageLog, Status
from retry_admin.selectors import RETRY_FIGURES
from retry_admin.services.bulk import bulk_retry_preview, bulk_retry_run
from retry_admin.services.manual_retry import message_retry
from retry_admin.services.sender import sender_drain
from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def failed_once(make_batch, settings):
    """Three messages whose first attempt failed (transient), then a channel that sends."""
    settings.SIMULATED_TRANSIENT_RATE = 1.0
    settings.SIMULATED_PERMANENT_RATE = 0.0
    reset_channels()
    batch = make_batch(3, channel="simulated")
    sender_drain(until_empty=True)
    assert MessageLog.objects.filter(status=Status.FAILED).count() == 3
    settings.SIMULATED_TRANSIENT_RATE = 0.0
    reset_channels()
    return list(MessageLog.objects.filter(batch=batch).order_by("id"))


def _overview(client) -> str:
    return client.get("/").content.decode()


def test_a_one_click_retry_that_sends_counts_everywhere(super_client, super_admin, failed_once):
    message = failed_once[0]
    message_retry(message_ids=[message.pk], user=super_admin)
    sender_drain(until_empty=True)

    html = _overview(super_client)
    stats = bearer(super_admin).get("/api/Statistics/GetMessageStatusStats").json()
    detail = super_client.get(f"/messages/{message.pk}/").content.decode()

    assert 'data-testid="recovered">1<' in html
    assert 'data-testid="retry-success-rate">100.0%<' in html
    assert stats["recovered"] == 1 and stats["retrySuccessRate"] == 1.0
    assert 'data-testid="attempts">2<' in detail
    assert 'data-testid="retries">1 (1 one-click or bulk)<' in detail
    assert "0 of 3 automatic retries used" in detail


def test_bulk_and_dlq_replay_count_too(super_client, super_admin, failed_once, settings):
    preview = bulk_retry_preview(filters=MessageFilter(status=Status.FAILED))
    bulk_retry_run(token=preview.token, user=super_admin)
    sender_drain(until_empty=True)

    stats = bearer(super_admin).get("/api/Statistics/GetMessageStatusStats").json()

    assert stats["recovered"] == 3 and stats["retrySuccessRate"] == 1.0
    assert 'data-testid="recovered">3<' in _overview(super_client)


def test_each_figure_says_what_it_means_on_the_page_and_in_the_api(super_client, super_admin):
    html = _overview(super_client)
    stats = bearer(super_admin).get("/api/Statistics/GetMessageStatusStats").json()

    for key in ("recovered", "permanently_failed"):
        assert f'title="{RETRY_FIGURES[key]}"' in html
    assert stats["definitions"]["recovered"] == RETRY_FIGURES["recovered"]
    assert stats["definitions"]["retrySuccessRate"] == RETRY_FIGURES["retry_success_rate"]


def test_counts_now_and_outcomes_over_24_h_are_labelled_apart(super_client, make_batch):
    make_batch(2)
    sender_drain(until_empty=True)

    html = _overview(super_client)

    assert "Messages by status, now" in html
    assert "Delivery outcomes per hour, last 24 h" in html
    assert "failed (will retry)" not in html
    assert "attempts failed, to retry" in html
