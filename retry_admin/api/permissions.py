"""Who may call what. The rules themselves live in ``retry_admin.roles``; these
classes only map HTTP methods onto them.

Anonymous callers get 401 (DRF raises ``NotAuthenticated`` when a permission
fails and nobody authenticated); signed-in callers who may not get 403.
"""

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission

from retry_admin import roles

VIEW_REFUSED = "Only staff users and Super Admin / System Admin may use the API."
ACT_REFUSED = (
    "Only Super Admin and System Admin may create batches, retry, replay or trigger a cycle; "
    "your account is read-only."
)
PURGE_REFUSED = "Only Super Admin may purge the dead-letter queue."


class CanView(BasePermission):
    """Reads only: any staff user or role holder."""

    message = VIEW_REFUSED

    def has_permission(self, request, view) -> bool:
        return roles.can_view(request.user)


class CanAct(BasePermission):
    """Reads for viewers; every other method (an action) for Super / System Admin."""

    check = staticmethod(roles.can_act)
    refusal = ACT_REFUSED

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            self.message = VIEW_REFUSED
            return roles.can_view(request.user)
        self.message = VIEW_REFUSED if not roles.can_view(request.user) else self.refusal
        return self.check(request.user)


class CanPurge(CanAct):
    """Reads for viewers; DELETE (purging the DLQ) for Super Admin only."""

    check = staticmethod(roles.can_purge)
    refusal = PURGE_REFUSED


class CanReadDocs(CanView):
    """The schema and docs: staff as for any read, or anyone with ``API_DOCS_PUBLIC``."""

    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or super().has_permission(request, view)
