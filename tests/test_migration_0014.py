"""Migration 0014: the failures recorded with an empty error signature get
one, since the failure indexes hold only signed logs."""

from importlib import import_module

import pytest
from django.apps import apps

from retry_admin.models import MessageLog, Status
from retry_admin.models.signatures import NO_ERROR_TEXT
from retry_admin.selectors.messages import failure_groups

pytestmark = pytest.mark.django_db

migration = import_module("retry_admin.migrations.0014_message_log_failure_indexes")


def test_unsigned_failures_are_signed_and_found_again():
    for status in Status.values:
        MessageLog.objects.create(recipient=f"+{len(status)}", status=status)
    assert failure_groups(status=Status.PERMANENTLY_FAILED) == []  # invisible unsigned

    migration.sign_unsigned_failures(apps, None)

    signed = dict(MessageLog.objects.values_list("status", "error_signature"))
    assert signed == {
        Status.PENDING: "",
        Status.SENT: "",
        Status.FAILED: NO_ERROR_TEXT,
        Status.PERMANENTLY_FAILED: NO_ERROR_TEXT,
        Status.DEAD_LETTERED: NO_ERROR_TEXT,
    }
    groups = failure_groups(status=Status.PERMANENTLY_FAILED)
    assert [(g["error_signature"], g["count"]) for g in groups] == [(NO_ERROR_TEXT, 1)]
