"""Who may see and do what on the console. Every view goes through one of
these decorators; the rules themselves live in ``retry_admin.roles``."""

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseClientRedirect

from retry_admin import roles


def role_label(user) -> str:
    if roles.can_purge(user):
        return roles.SUPER_ADMIN
    if roles.can_act(user):
        return roles.SYSTEM_ADMIN
    return "Viewer (read-only)"


def role_context(request: HttpRequest) -> dict:
    """What templates need to decide which buttons to draw."""
    return {
        "can_act": roles.can_act(request.user),
        "can_purge": roles.can_purge(request.user),
        "role": role_label(request.user),
    }


def page(request: HttpRequest, template: str, context: dict, *, status: int = 200):
    return render(request, template, {**role_context(request), **context}, status=status)


def wants_part(request: HttpRequest) -> bool:
    """An htmx request for a piece of a page (not a history restore, which
    needs the whole page)."""
    return bool(request.htmx) and not request.htmx.history_restore_request


def page_or_part(request: HttpRequest, template: str, part: str, context: dict) -> HttpResponse:
    """The whole page, or only its ``#part`` partial when htmx asks for a piece."""
    return page(request, f"{template}#{part}" if wants_part(request) else template, context)


def forbidden(request: HttpRequest, reason: str) -> HttpResponse:
    """403, changing nothing. htmx requests get the reason as plain text,
    which console.js shows in the flash area."""
    if request.htmx:
        return HttpResponse(reason, status=403, content_type="text/plain; charset=utf-8")
    return page(request, "retry_admin/403.html", {"reason": reason}, status=403)


NO_ACCESS = "Your account has no access to Retry Admin."


def no_access(request: HttpRequest) -> HttpResponse:
    """403 for a signed-in account that may not use the console at all: one
    plain page without navigation or role (every link would refuse again)."""
    if request.htmx:
        return HttpResponse(NO_ACCESS, status=403, content_type="text/plain; charset=utf-8")
    return render(request, "retry_admin/no_access.html", status=403)


def _login(request: HttpRequest) -> HttpResponse:
    if request.htmx:  # a poll after the session expired: reload the page, not a fragment
        return HttpResponseClientRedirect(f"{settings.LOGIN_URL}?next={request.path}")
    return redirect_to_login(request.get_full_path())


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """Sign in first, or no access at all; ``None`` when the user may view."""
    if not request.user.is_authenticated:
        return _login(request)
    if not roles.can_view(request.user):
        return no_access(request)
    return None


def console_view(view: Callable) -> Callable:
    """Sign-in and ``roles.can_view`` for every page and fragment."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        refused = _refusal(request)
        return refused if refused is not None else view(request, *args, **kwargs)

    return wrapper


def console_action(check: Callable = roles.can_act, *, refusal: str = "") -> Callable:
    """POST only, signed in, and ``check`` (``roles.can_act`` unless said
    otherwise); anything else is refused before the view runs."""
    refusal = refusal or "Your role may view but not act: ask a Super Admin or System Admin."

    def decorator(view: Callable) -> Callable:
        @require_POST
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if (refused := _refusal(request)) is not None:
                return refused
            if not check(request.user):
                return forbidden(request, refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@console_view
def too_large(request: HttpRequest, reason: str) -> HttpResponse:
    """413 for a form larger than the console reads, changing nothing."""
    if request.htmx:
        return HttpResponse(reason, status=413, content_type="text/plain; charset=utf-8")
    return page(request, "retry_admin/too_large.html", {"reason": reason}, status=413)
