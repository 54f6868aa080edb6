import signal

from django.core.management.base import BaseCommand

from retry_admin.services.runner import sender_run
from retry_admin.services.sender import sender_drain


class Command(BaseCommand):
    help = (
        "Deliver queued messages continuously, waking as soon as messages are "
        "enqueued (run it under a supervisor: `make run`, docs/deploy.md); with "
        "--until-empty, drain what is visible and exit. SIGTERM lets the chunk in "
        "hand finish (outcomes committed, messages acked), then exits."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until-empty", action="store_true", help="exit once the queue is empty"
        )
        parser.add_argument("--seconds", type=float, default=None, help="stop after this long")

    def handle(self, *args, until_empty, seconds, **options):
        stopping = []

        def stop(signum, frame):
            # Finish the chunk in hand (its outcome is committed and acked), then exit.
            stopping.append(signum)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if until_empty:
            report = sender_drain(
                seconds=seconds, until_empty=True, should_stop=lambda: bool(stopping)
            )
        else:
            report = sender_run(seconds=seconds, should_stop=lambda: bool(stopping))
        self.stdout.write(
            f"received={report.received} sent={report.sent} failed={report.failed} "
            f"permanently_failed={report.permanently_failed} dead_lettered={report.dead_lettered} "
            f"skipped={report.skipped}"
        )
