"""Who may do what (docs/design.md, Roles). Pages, API and commands all ask here."""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group

SUPER_ADMIN = "Super Admin"
SYSTEM_ADMIN = "System Admin"
ROLE_NAMES = (SUPER_ADMIN, SYSTEM_ADMIN)

User = AbstractBaseUser | AnonymousUser


def _groups(user: User) -> set[str]:
    cached = getattr(user, "_retry_admin_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        user._retry_admin_groups = cached
    return cached


def can_view(user: User) -> bool:
    """Any signed-in staff user (or role holder) sees everything, read-only."""
    return bool(user.is_authenticated and user.is_active and (user.is_staff or can_act(user)))


def can_act(user: User) -> bool:
    """Retry, replay, trigger a cycle, create batches."""
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or bool(_groups(user) & set(ROLE_NAMES))


def can_purge(user: User) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or SUPER_ADMIN in _groups(user)


def can_manage_alerts(user: User) -> bool:
    """Set alert thresholds and turn rules on or off: who gets woken at night
    is the Super Admin's call, as purging is."""
    return can_purge(user)


def ensure_groups() -> list[str]:
    """Create the role groups; idempotent. Returns the names created."""
    created = []
    for name in ROLE_NAMES:
        _, was_created = Group.objects.get_or_create(name=name)
        if was_created:
            created.append(name)
    return created
