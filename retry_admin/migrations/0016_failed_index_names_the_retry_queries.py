"""msg_status_retry's condition gains "retry_count IS NOT NULL" (always
true), which the retry rules' queries name and the messages page's list of
failed logs does not: with statistics, SQLite took that list from this
smaller index and sorted every failed log instead of walking msg_status_id
(see retry_admin.policy.FAILED_Q)."""

from importlib import import_module

from django.db import migrations, models

refresh_sqlite_statistics = import_module(
    "retry_admin.migrations.0014_message_log_failure_indexes"
).refresh_sqlite_statistics


class Migration(migrations.Migration):
    dependencies = [
        ("retry_admin", "0015_message_log_fillfactor"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="messagelog",
            name="msg_status_retry",
        ),
        migrations.AddIndex(
            model_name="messagelog",
            index=models.Index(
                condition=models.Q(("retry_count__isnull", False), ("status", "failed")),
                fields=["status", "retry_count", "updated_at"],
                name="msg_status_retry",
            ),
        ),
        migrations.RunPython(refresh_sqlite_statistics, migrations.RunPython.noop, elidable=True),
    ]
