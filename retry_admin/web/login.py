"""The sign-in page: what it says when the throttle (django-axes) refuses,
and the line that greets a signed-in operator."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
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


class SignInView(LoginView):
    """Django's sign-in, saying whom it signed in: the first page then opens
    with that line in the flash area, which console.js focuses, so a keyboard
    or screen-reader user hears where they are (docs/console.md)."""

    template_name = "retry_admin/login.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        messages.info(self.request, f"Signed in as {form.get_user().get_username()}.")
        return response
