from django.core.management.base import BaseCommand, CommandError

from retry_admin.services.dlq import Outcome, dlq_replay


class Command(BaseCommand):
    help = (
        "Move dead-lettered messages back to the main queue (all, or --id ... entries). "
        "Reports what happened to each entry; exits non-zero when entries are left behind."
    )

    def add_arguments(self, parser):
        parser.add_argument("--id", dest="ids", action="append", help="a DLQ entry id (repeatable)")
        parser.add_argument("--limit", type=int, default=None, help="replay at most this many")
        parser.add_argument(
            "--as-is",
            dest="as_is",
            action="store_true",
            help="also move bodies that are not Retry Admin envelopes back to the main queue "
            "unchanged (what the SQS redrive does), instead of leaving them in the DLQ",
        )

    def handle(self, *args, ids, limit, as_is, **options):
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        result = dlq_replay(ids=ids, user=None, limit=limit, as_is=as_is, actor="replay_dlq")
        left = result.left
        self.stdout.write(
            f"replayed={result.replayed} moved_as_is={len(result.moved_as_is)} left={len(left)}"
        )
        for dlq_id, outcome, reason in result.outcomes():
            if outcome == Outcome.LEFT:
                self.stderr.write(f"{dlq_id}: left: {reason}")
            else:
                self.stdout.write(f"{dlq_id}: {outcome.label}")
        if left:
            if not as_is and result.unreadable:
                self.stderr.write(
                    "Bodies that are not Retry Admin envelopes can be moved back unchanged "
                    "with --as-is."
                )
            entries = "1 entry" if len(left) == 1 else f"{len(left)} entries"
            raise CommandError(f"{entries} left in the DLQ")
