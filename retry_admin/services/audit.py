from django.contrib.auth.models import AbstractBaseUser

from retry_admin.models import AuditEvent


def actor_name(user: AbstractBaseUser | None) -> str:
    """Who did it, as pages and rows show it: the username, or "system"."""
    return user.get_username() if user is not None and user.is_authenticated else "system"


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
        actor_name=actor_name(user),
        action=action,
        target=target[:255],
        count=count,
        details=details or {},
    )
