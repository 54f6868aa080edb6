from django.core.management.base import BaseCommand

from retry_admin.queues import QueueError, get_backend
from retry_admin.roles import ensure_groups
from retry_admin.schedules import schedules_ensure


class Command(BaseCommand):
    help = (
        "Create the role groups and django-q2 schedules, and ensure the queue exists. Idempotent."
    )

    def handle(self, *args, **options):
        groups = ensure_groups()
        schedules = schedules_ensure()
        self.stdout.write(f"groups created: {', '.join(groups) or 'none (already there)'}")
        self.stdout.write(f"schedules created: {', '.join(schedules) or 'none (already there)'}")
        backend = get_backend()
        try:
            backend.ensure()
            self.stdout.write(f"queue ready: {backend.describe()}")
        except QueueError as exc:
            self.stderr.write(f"queue not ready ({backend.describe()}): {exc}")
