"""The django-q2 schedules, defined once (setup command, pages, health)."""

from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    func: str
    minutes: int


RETRY_CYCLE = "retry-cycle"


MIRROR = "table-mirror"
DLQ_AUTO_REPLAY = "dlq-auto-replay"
# Schedules that exist only while their setting is on.
OPTIONAL = (MIRROR, DLQ_AUTO_REPLAY)


def schedule_specs() -> list[ScheduleSpec]:
    specs = [
        ScheduleSpec("sender", "retry_admin.tasks.send_queued_messages", 1),
        ScheduleSpec("dispatcher", "retry_admin.tasks.dispatch_outbox", 1),
        ScheduleSpec("heartbeat", "retry_admin.tasks.scheduler_heartbeat", 1),
        ScheduleSpec(
            RETRY_CYCLE,
            "retry_admin.tasks.run_retry_cycle",
            max(1, round(settings.MESSAGE_RETRY_INTERVAL_HOURS * 60)),
        ),
        ScheduleSpec("cleanup", "retry_admin.tasks.cleanup_old_messages", 24 * 60),
        ScheduleSpec("dlq-reconcile", "retry_admin.tasks.reconcile_dlq", 5),
        ScheduleSpec("alerts", "retry_admin.tasks.evaluate_alerts", 1),
    ]
    if settings.AZURE_TABLES_MIRROR:
        specs.append(ScheduleSpec(MIRROR, "retry_admin.tasks.mirror_tables", 1))
    if settings.DLQ_AUTO_REPLAY:
        specs.append(
            ScheduleSpec(
                DLQ_AUTO_REPLAY,
                "retry_admin.tasks.auto_replay_dlq",
                settings.DLQ_AUTO_REPLAY_INTERVAL_MINUTES,
            )
        )
    return specs


def every(minutes: int) -> str:
    """A schedule's interval as people say it: "every 5 min", "every 6 h", "daily"."""
    if minutes == 1:
        return "every minute"
    if minutes % (24 * 60) == 0:
        days = minutes // (24 * 60)
        return "daily" if days == 1 else f"every {days} days"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "hourly" if hours == 1 else f"every {hours} h"
    return f"every {minutes} min"


def schedules_ensure() -> list[str]:
    """Create or update the schedules; idempotent. Returns the names created."""
    from django_q.models import Schedule

    created = []
    specs = schedule_specs()
    # Turned off since the last setup: they must not keep running.
    off = [name for name in OPTIONAL if name not in {spec.name for spec in specs}]
    Schedule.objects.filter(name__in=off).delete()
    for spec in specs:
        schedule, was_created = Schedule.objects.get_or_create(
            name=spec.name,
            defaults={
                "func": spec.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": spec.minutes,
                "repeats": -1,
                "next_run": timezone.now(),
            },
        )
        if was_created:
            created.append(spec.name)
        elif (schedule.func, schedule.minutes, schedule.schedule_type) != (
            spec.func,
            spec.minutes,
            Schedule.MINUTES,
        ):
            schedule.func, schedule.minutes = spec.func, spec.minutes
            schedule.schedule_type, schedule.repeats = Schedule.MINUTES, -1
            schedule.save()
    return created


def next_run(name: str):
    from django_q.models import Schedule

    return Schedule.objects.filter(name=name).values_list("next_run", flat=True).first()
