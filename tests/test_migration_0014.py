"""Migration 0014: the failures recorded with an empty error signature get
one, since the failure indexes hold only signed logs."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection

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


def _indexes_with_statistics() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT idx FROM sqlite_stat1 WHERE tbl = 'retry_admin_messagelog'")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.skipif("connection.vendor != 'sqlite'", reason="SQLite's own statistics")
def test_an_analyzed_sqlite_database_gets_statistics_for_the_new_indexes():
    for n in range(20):
        MessageLog.objects.create(recipient=f"+{n}", status=Status.FAILED, error_signature="x")
    with connection.cursor() as cursor:
        cursor.execute('ANALYZE "retry_admin_messagelog"')
        # As before the migration: statistics for every index but the new ones.
        cursor.execute(
            "DELETE FROM sqlite_stat1 WHERE idx IN ('msg_status_retry', 'msg_retried_status')"
        )
    assert "msg_status_retry" not in _indexes_with_statistics()

    migration.refresh_sqlite_statistics(apps, SimpleNamespace(connection=connection))

    assert {"msg_status_retry", "msg_status_id"} <= _indexes_with_statistics()
