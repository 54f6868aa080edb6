"""PostgreSQL only: the message log's pages are filled to half, so that the
sender's lease can be a HOT update.

A first send changes each log twice: the lease (lease_token and
lease_expires_at, no indexed column) and the outcome. An update whose new row
version fits on the old one's page and sets no indexed column is HOT: no
index entry is written. A freshly created batch fills its pages, so every
lease moved its row to another page and wrote an entry in each of the log's
indexes (about a third of the database's time per message sent). With half
of each page free the whole chunk's new versions fit beside the old ones;
the old ones are pruned once the lease commits, which leaves room for the
outcome's versions on the same page. The table takes about twice the pages.
Only pages written from now on are affected (``VACUUM FULL`` rewrites the
existing ones). SQLite updates rows in place and has no such setting.
"""

from django.db import migrations

FILLFACTOR = 50


def _table(apps) -> str:
    return apps.get_model("retry_admin", "MessageLog")._meta.db_table


def forwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {_table(apps)} SET (fillfactor = {FILLFACTOR})")


def backwards(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {_table(apps)} RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("retry_admin", "0014_message_log_failure_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
