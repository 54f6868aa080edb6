import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from retry_admin.models import Batch, Template
from retry_admin.queues import get_backend
from retry_admin.roles import SUPER_ADMIN, ensure_groups
from retry_admin.services.batches import RecipientRow, batch_create
from retry_admin.services.sender import sender_drain

DEMO_PREFIX = "Demo: "
NIGHT_SHIFT_SIZE = 6
FIRST_NAMES = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus", "Radia"]


def _password(name: str) -> str:
    """A random password kept in var/ so that every `make run` prints the same one."""
    path = settings.VAR_DIR / f"demo_{name}_password"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(12))
        path.chmod(0o600)
    return path.read_text().strip()


class Command(BaseCommand):
    help = (
        "Create a demo Super Admin, a read-only viewer and demo batches on the simulated channel."
    )

    def add_arguments(self, parser):
        parser.add_argument("--no-send", action="store_true", help="leave the batches queued")

    def handle(self, *args, no_send, **options):
        ensure_groups()
        admin = self._user("admin", staff=True, superuser=False, group=SUPER_ADMIN)
        self._user("viewer", staff=True, superuser=False, group=None)
        if Batch.objects.filter(name__startswith=DEMO_PREFIX).exists():
            self.stdout.write("demo batches already exist")
        else:
            welcome, _ = Template.objects.get_or_create(
                name="Welcome",
                defaults={"body": "Hi {{ first_name }}, welcome aboard! Your code is {{ code }}."},
            )
            reminder, _ = Template.objects.get_or_create(
                name="Reminder",
                defaults={"body": "{{ first_name }}, your appointment is on {{ date }}."},
            )
            for name, template, size in [
                ("November welcome", welcome, 120),
                ("Appointment reminders", reminder, 80),
            ]:
                rows = [
                    RecipientRow(
                        line=i + 1,
                        recipient=f"+4477009{i:05d}",
                        context={
                            "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
                            "code": f"{1000 + i}",
                            "date": f"2026-12-{1 + i % 28:02d}",
                        },
                    )
                    for i in range(size)
                ]
                batch = batch_create(
                    name=DEMO_PREFIX + name,
                    template=template,
                    recipients=rows,
                    channel="simulated",
                    user=admin,
                ).batch
                self.stdout.write(f"created batch {batch.pk} ({batch.total} recipients)")
            if not no_send:
                report = sender_drain(until_empty=True)
                self.stdout.write(
                    f"sent={report.sent} failed={report.failed} "
                    f"permanently_failed={report.permanently_failed}"
                )
                self._crashing_worker(welcome, admin)

    def _crashing_worker(self, template: Template, admin) -> None:
        """A batch whose worker receives it and dies before recording an
        outcome, more than QUEUE_MAX_RECEIVES times: the sender moves it to the
        DLQ, exactly as in production, so the DLQ page has something to show."""
        rows = [
            RecipientRow(
                line=i + 1,
                recipient=f"+4477008{i:05d}",
                context={"first_name": FIRST_NAMES[i % len(FIRST_NAMES)], "code": f"{700 + i}"},
            )
            for i in range(NIGHT_SHIFT_SIZE)
        ]
        batch = batch_create(
            name=DEMO_PREFIX + "Night shift (a crashing worker)",
            template=template,
            recipients=rows,
            channel="simulated",
            user=admin,
        ).batch
        backend = get_backend()
        for _ in range(settings.QUEUE_MAX_RECEIVES):
            received = backend.receive(NIGHT_SHIFT_SIZE, visibility_timeout=30)
            backend.release([message.handle for message in received])
        report = sender_drain(until_empty=True)
        self.stdout.write(f"created batch {batch.pk}: dead-lettered={report.dead_lettered}")

    def _user(self, username: str, *, staff: bool, superuser: bool, group: str | None):
        User = get_user_model()
        password = _password(username)
        user, _ = User.objects.get_or_create(username=username)
        user.is_staff, user.is_superuser = staff, superuser
        user.set_password(password)
        user.save()
        if group:
            user.groups.add(Group.objects.get(name=group))
        role = group or "read-only viewer"
        self.stdout.write(self.style.SUCCESS(f"{role}: username={username} password={password}"))
        return user
