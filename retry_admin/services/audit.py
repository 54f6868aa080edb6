from django.contrib.auth.models import AbstractBaseUser

from retry_admin.models import AuditEvent


def audit_record(
    *,
    user: AbstractBaseUser | None,
    action: str,
    target: str = "",
    count: int = 0,
    details: dict | None = None,
) -> AuditEvent:
    actor = user if user is not None and user.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "system",
        action=action,
        target=target[:255],
        count=count,
        details=details or {},
    )
