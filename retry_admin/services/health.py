"""Heartbeats of the long-running parts and the health verdict built on them."""

from django.db import DatabaseError, connection
from django.utils import timezone

from retry_admin.models import Heartbeat
from retry_admin.selectors import queue_status

# A part is alive if it beat within this many seconds: the scheduler beats
# every minute, the sender every few seconds while it runs.
STALE_AFTER = {"scheduler": 180, "sender": 180}


def heartbeat(name: str, **details: object) -> None:
    Heartbeat.objects.update_or_create(
        name=name, defaults={"beat_at": timezone.now(), "details": details}
    )


def health_check() -> dict:
    """Database, queue, scheduler and sender state; ``healthy`` only if all are ok."""
    checks: dict[str, dict] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = {"ok": True, "vendor": connection.vendor}
    except Exception as exc:  # any driver error means "down"; say which
        checks["database"] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
    checks["queue"] = queue_status()
    beats = {}
    if checks["database"]["ok"]:
        try:
            beats = {b.name: b for b in Heartbeat.objects.filter(name__in=STALE_AFTER)}
        except DatabaseError as exc:  # e.g. migrations not applied
            checks["database"] = {"ok": False, "error": f"{exc.__class__.__name__}: {exc}"}
    now = timezone.now()
    for name, stale_after in STALE_AFTER.items():
        beat = beats.get(name)
        if beat is None:
            checks[name] = {"ok": False, "error": "never seen"}
            continue
        age = (now - beat.beat_at).total_seconds()
        checks[name] = {
            "ok": age <= stale_after,
            "last_seen": beat.beat_at.isoformat(),
            "age_seconds": round(age, 1),
            **({"error": f"silent for {int(age)} s"} if age > stale_after else {}),
        }
    return {
        "healthy": all(check["ok"] for check in checks.values()),
        "checks": checks,
        "timestamp": now.isoformat(),
    }
