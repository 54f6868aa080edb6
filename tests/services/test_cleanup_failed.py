"""Retention cleans up failed messages the retry cycle will never take, and
says so in the audit log; the console lists them as "invalid, skipped"
(issue 13 item 5)."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from retry_admin import policy
from retry_admin.filters import MessageFilter
from retry_admin.models import AuditEvent, DeliveryAttempt, MessageLog, Status
from retry_admin.services.cleanup import cleanup_run
from retry_admin.services.retry import retry_cycle_run

pytestmark = pytest.mark.django_db


def _ago(days: float):
    return timezone.now() - timedelta(days=days)


@pytest.fixture
def failed(make_batch):
    """Six failed messages: old invalid (blank recipient, list context), old
    valid, recent invalid, recent valid, and an old invalid one still pending."""
    batch = make_batch(6)
    logs = list(MessageLog.objects.filter(batch=batch).order_by("id"))
    old_blank, old_list, old_valid, new_blank, new_valid, old_pending = logs
    MessageLog.objects.filter(pk__in=[log.pk for log in logs]).update(status=Status.FAILED)
    MessageLog.objects.filter(pk__in=[old_blank.pk, new_blank.pk, old_pending.pk]).update(
        recipient="  "
    )
    MessageLog.objects.filter(pk=old_list.pk).update(context=[1, 2])
    MessageLog.objects.filter(pk=old_pending.pk).update(status=Status.PENDING)
    for log, days in [(old_blank, 31), (old_list, 40), (old_valid, 45), (old_pending, 60)]:
        MessageLog.objects.filter(pk=log.pk).update(updated_at=_ago(days))
    for log, days in [(new_blank, 2), (new_valid, 2)]:
        MessageLog.objects.filter(pk=log.pk).update(updated_at=_ago(days))
    return logs


def test_it_deletes_old_failed_messages_with_invalid_data_and_audits_it(failed, settings):
    settings.RETENTION_DAYS = 30
    old_blank, old_list, old_valid, new_blank, new_valid, old_pending = failed
    DeliveryAttempt.objects.create(
        message=old_blank, number=1, source="queue", outcome="transient", duration_ms=5
    )

    assert cleanup_run() == 2

    kept = {old_valid.pk, new_blank.pk, new_valid.pk, old_pending.pk}
    assert set(MessageLog.objects.values_list("id", flat=True)) == kept
    assert not DeliveryAttempt.objects.filter(message_id=old_blank.pk).exists()
    event = AuditEvent.objects.get(action=AuditEvent.Action.RETENTION_CLEANUP)
    assert (event.actor, event.actor_name, event.count) == (None, "system", 2)
    assert sorted(event.details["ids"]) == sorted([str(old_blank.pk), str(old_list.pk)])
    assert event.details["rule"] == "invalid"


def test_the_design_s_rule_deletes_every_old_failed_message(failed, settings):
    settings.RETENTION_DAYS = 30
    settings.RETENTION_FAILED = "all"
    _, _, _, new_blank, new_valid, old_pending = failed

    assert cleanup_run() == 3

    kept = {new_blank.pk, new_valid.pk, old_pending.pk}
    assert set(MessageLog.objects.values_list("id", flat=True)) == kept
    assert AuditEvent.objects.get(action=AuditEvent.Action.RETENTION_CLEANUP).count == 3


def test_nothing_to_delete_writes_no_audit_row(failed, settings):
    settings.RETENTION_DAYS = 365
    assert cleanup_run() == 0
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.RETENTION_CLEANUP).exists()


def test_the_cycle_skips_them_every_time_until_retention_takes_them(failed, settings):
    settings.RETENTION_DAYS = 30
    old_blank = failed[0]
    for _ in range(2):
        run = retry_cycle_run(trigger="schedule")
        assert run.skipped == 3  # both old invalid ones and the recent one, every cycle
        assert MessageLog.objects.get(pk=old_blank.pk).updated_at < _ago(30)

    cleanup_run()

    assert retry_cycle_run(trigger="schedule").skipped == 1  # the recent one, still owed a fix


@pytest.mark.parametrize(
    ("recipient", "context", "invalid"),
    [
        ("a@example.com", {"name": "A"}, False),
        ("a@example.com", {}, False),
        ("", {}, True),
        (" \t\n", {}, True),
        ("a@example.com", [], True),
        ("a@example.com", "text", True),
        ("a@example.com", 3, True),
        ("a@example.com", True, True),
    ],
)
def test_the_query_and_the_row_rule_agree(make_batch, recipient, context, invalid):
    log = MessageLog.objects.get(batch=make_batch(1))
    MessageLog.objects.filter(pk=log.pk).update(recipient=recipient, context=context)

    by_query = MessageLog.objects.filter(policy.invalid_q(), pk=log.pk).exists()

    assert by_query is invalid
    assert (policy.invalid_reason(recipient, context) is not None) is invalid


def test_the_console_lists_them_as_invalid_skipped(failed, super_admin):
    client = Client()
    client.force_login(super_admin)
    old_blank, old_list, old_valid, new_blank, new_valid, _ = failed

    page = client.get("/messages/", {"status": "failed", "invalid": "true"})

    html = page.content.decode()
    assert page.status_code == 200
    assert "Invalid, skipped" in html
    for log in (old_blank, old_list, new_blank):
        assert f"/messages/{log.pk}/" in html
    for log in (old_valid, new_valid):
        assert f"/messages/{log.pk}/" not in html


def test_the_invalid_filter_parses_and_round_trips():
    assert MessageFilter.from_params({"invalid": "true"}).invalid is True
    assert MessageFilter.from_params({"invalid": "on"}).as_params() == {"invalid": "true"}
    assert MessageFilter.from_params({"invalid": ""}).as_params() == {}
    assert MessageFilter(batch=0).as_params() == {"batch": "0"}


def test_a_bad_invalid_value_is_refused_not_ignored(super_admin):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        MessageFilter.from_params({"invalid": "maybe"})
    assert "invalid" in refused.value.message_dict
    client = Client()
    client.force_login(super_admin)
    page = client.get("/messages/", {"invalid": "maybe"})
    assert page.status_code in (200, 400)
    assert "invalid must be true or false" in page.content.decode()
