from django.conf import settings
from django.core.management.base import BaseCommand

from retry_admin.services.mirror import mirror_status


class Command(BaseCommand):
    help = "How far the Azure Table Storage mirror is behind the database (AZURE_TABLES_MIRROR)."

    def handle(self, *args, **options):
        enabled = "on" if settings.AZURE_TABLES_MIRROR else "off"
        self.stdout.write(f"mirror: {enabled} (AZURE_TABLES_MIRROR)")
        for table in mirror_status():
            if table.watermark is None:
                where = "never mirrored"
            else:
                where = (
                    f"watermark {table.watermark.isoformat()} "
                    f"({table.watermark_age_seconds:.0f} s ago)"
                )
            self.stdout.write(
                f"{table.table}: {where}; changed since: {table.changed_since} rows; "
                f"written: {table.rows_written}; last success: "
                f"{table.last_success_at.isoformat() if table.last_success_at else 'never'}"
            )
            if table.last_error:
                self.stdout.write(f"{table.table}: last error: {table.last_error}")
