"""PostgreSQL only: vacuum the embedded queue's table early and at full speed.

Every queue row lives for seconds and leaves two dead tuples (the claim's
update and the ack's delete), so the default trigger (20% of the table) lets
a drain of 200,000 messages leave 400,000 dead tuples behind. With these
settings autovacuum visits the table after every 10,000 dead tuples, however
big it is; ``queues/db.py`` also vacuums it when a receive finds it drained.
SQLite has no such settings (a deleted row's space is reused at once).
"""

from django.db import migrations

SETTINGS = {
    "autovacuum_vacuum_scale_factor": "0",
    "autovacuum_vacuum_threshold": "10000",
    "autovacuum_vacuum_cost_delay": "0",
    "autovacuum_analyze_scale_factor": "0",
    "autovacuum_analyze_threshold": "10000",
}


def _table(apps) -> str:
    return apps.get_model("retry_admin", "QueueMessage")._meta.db_table


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        values = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
        schema_editor.execute(f"ALTER TABLE {_table(apps)} SET ({values})")


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {_table(apps)} RESET ({', '.join(SETTINGS)})")


class Migration(migrations.Migration):
    dependencies = [("retry_admin", "0010_retry_run_left_cleanup_audit")]

    operations = [migrations.RunPython(forwards, backwards)]
