"""What the sign-in page says when the throttle (django-axes) refuses."""

from django.conf import settings
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def locked_out(
    request: HttpRequest, response: HttpResponse | None = None, credentials: dict | None = None
) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the sign-in page again, with the reason, as 429."""
    username = (credentials or {}).get("username", "")
    minutes = settings.LOGIN_COOLOFF_MINUTES
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", "") if request.method == "POST" else "",
        "locked_out": f"{minutes} minute{'s' if minutes != 1 else ''}",
    }
    return render(request, "retry_admin/login.html", context, status=429)
