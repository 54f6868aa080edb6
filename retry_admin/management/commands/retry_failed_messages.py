from django.core.management.base import BaseCommand, CommandError

from retry_admin.models import RetryRun
from retry_admin.services.retry import RetryCycleBusy, retry_cycle_run


class Command(BaseCommand):
    help = "Run one retry cycle now (the same one the 6-hourly schedule runs)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="say what would happen, change nothing"
        )

    def handle(self, *args, dry_run, **options):
        try:
            run = retry_cycle_run(trigger=RetryRun.Trigger.COMMAND, dry_run=dry_run)
        except RetryCycleBusy as exc:
            raise CommandError(str(exc)) from None
        prefix = "dry run: would " if dry_run else ""
        self.stdout.write(
            f"{prefix}select={run.selected} requeue={run.requeued} still_failed={run.still_failed} "
            f"permanently_fail={run.permanently_failed} skip={run.skipped}"
            + (f" error={run.error}" if run.error else "")
        )
