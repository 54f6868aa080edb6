from django.core.management.base import BaseCommand

from retry_admin.services.dlq import dlq_replay


class Command(BaseCommand):
    help = "Move dead-lettered messages back to the main queue (all, or --id ... entries)."

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="ids", action="append", help="a DLQ entry id (repeatable)")
        parser.add_argument("--limit", type=int, default=None, help="replay at most this many")

    def handle(self, *args, ids, limit, **options):
        result = dlq_replay(ids=ids, user=None, limit=limit)
        self.stdout.write(f"replayed={result.replayed}")
        for dlq_id, reason in result.unreadable.items():
            self.stderr.write(f"left in the DLQ: {dlq_id}: {reason}")
        for dlq_id, reason in result.failed.items():
            self.stderr.write(f"not moved: {dlq_id}: {reason}")
