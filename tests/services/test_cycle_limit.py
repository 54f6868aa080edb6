"""The design's cap of 100 messages per cycle: a capped cycle records how many
eligible messages it left for the next one, the console says so and offers
to run another (issue 13 item 3)."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from retry_admin.models import MessageLog, RetryRun, Status
from retry_admin.services.retry import retry_cycle_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def failures(batch_with_failures, make_batch):
    """Ten failed messages eligible for a retry, the first two (by id, the
    order the cycle takes them in) with invalid data."""
    from datetime import timedelta

    from django.utils import timezone

    batch = make_batch(6)
    MessageLog.objects.filter(batch=batch).update(
        status=Status.FAILED, updated_at=timezone.now() - timedelta(hours=3)
    )
    logs = list(MessageLog.objects.order_by("id"))
    MessageLog.objects.filter(pk=logs[0].pk).update(recipient=" ")
    MessageLog.objects.filter(pk=logs[1].pk).update(context=["not", "an", "object"])
    return logs


def test_the_default_limit_is_the_design_s_100():
    assert django_settings.RETRY_CYCLE_LIMIT == 100


def test_a_capped_cycle_records_what_it_left_for_the_next(failures, settings):
    settings.RETRY_CYCLE_LIMIT = 3

    first = retry_cycle_run(trigger="schedule")

    assert (first.requeued, first.skipped, first.left) == (3, 2, 5)  # invalid never count
    assert RetryRun.objects.get(pk=first.pk).left == 5

    second = retry_cycle_run(trigger="schedule")
    third = retry_cycle_run(trigger="schedule")

    assert (second.requeued, second.left) == (3, 2)
    assert (third.requeued, third.left) == (2, 0)


def test_an_uncapped_cycle_leaves_nothing(failures, settings):
    settings.RETRY_CYCLE_LIMIT = 0

    run = retry_cycle_run(trigger="schedule")

    assert (run.requeued, run.skipped, run.left) == (8, 2, 0)


def test_a_dry_run_says_what_the_cap_would_leave(failures, settings):
    settings.RETRY_CYCLE_LIMIT = 3

    plan = retry_cycle_run(trigger="command", dry_run=True)

    assert (plan.selected, plan.requeued, plan.skipped, plan.left) == (10, 3, 2, 5)


def test_the_overview_shows_what_a_capped_cycle_left_and_offers_another(
    failures, settings, super_admin, viewer
):
    settings.RETRY_CYCLE_LIMIT = 3
    retry_cycle_run(trigger="schedule")
    client = Client()
    client.force_login(super_admin)

    page = client.get("/").content.decode()

    assert "5 eligible left for the next cycle" in page
    assert 'data-testid="run-another"' in page
    assert "2 skipped (invalid)" in page
    assert "/messages/?status=failed&amp;invalid=true" in page

    client.force_login(viewer)
    page = client.get("/").content.decode()
    assert "5 eligible left for the next cycle" in page
    assert 'data-testid="run-another"' not in page  # read-only: no action buttons


def test_the_overview_says_nothing_of_a_cycle_that_took_them_all(failures, settings, super_admin):
    settings.RETRY_CYCLE_LIMIT = 100
    retry_cycle_run(trigger="schedule")
    client = Client()
    client.force_login(super_admin)

    page = client.get("/").content.decode()

    assert "left for the next cycle" not in page
    assert 'data-testid="run-another"' not in page


def test_the_api_says_what_a_capped_cycle_left_and_what_one_now_would_leave(
    failures, settings, viewer, super_admin
):
    from tests.api.conftest import bearer

    settings.RETRY_CYCLE_LIMIT = 3
    retry_cycle_run(trigger="schedule")
    as_viewer, as_super = bearer(viewer), bearer(super_admin)

    status = as_viewer.get("/api/campaigns/retry-status").json()["messageRetryStatus"]
    plan = as_super.post("/api/campaigns/retry-failed-messages?dryRun=true").json()["data"]

    assert (status["lastResult"]["requeued"], status["lastResult"]["left"]) == (3, 5)
    assert (plan["requeued"], plan["left"]) == (3, 2)
