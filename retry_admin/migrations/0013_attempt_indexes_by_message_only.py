"""Delivery attempts keep one index besides their key, (message, number):
every read of attempts is by message, and the sender inserts a row per
delivery, so the message column's own index (a prefix of that one) and the
created_at index (nothing reads attempts by date) were two b-tree inserts a
delivery for nothing.

Dropped by name rather than by ``AlterField``, which on SQLite copies the
whole table (twice: once per field); the names are the ones Django gave them
on both databases."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

TABLE = "retry_admin_deliveryattempt"
INDEXES = {
    "retry_admin_deliveryattempt_message_id_0d4683c0": "message_id",
    "retry_admin_deliveryattempt_created_at_4e894f2d": "created_at",
}


class Migration(migrations.Migration):
    dependencies = [
        ("retry_admin", "0012_alerts"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(
                    f'DROP INDEX IF EXISTS "{name}"',
                    reverse_sql=f'CREATE INDEX "{name}" ON "{TABLE}" ("{column}")',
                )
                for name, column in INDEXES.items()
            ],
            state_operations=[
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="created_at",
                    field=models.DateTimeField(default=django.utils.timezone.now),
                ),
                migrations.AlterField(
                    model_name="deliveryattempt",
                    name="message",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="attempts",
                        to="retry_admin.messagelog",
                    ),
                ),
            ],
        ),
    ]
