"""Request ids, and what a request gets when an error escapes its view.

Every request carries an id: a sane incoming ``X-Request-ID`` (from a load
balancer), else a new one. It is returned in the ``X-Request-ID`` header and
written in every error log line, so an operator can find the traceback of the
page someone reports. While the database is unreachable a page answers a 503
page and the API a JSON 503; any other unhandled error is logged with its
traceback and answers the 500 page (JSON under /api/) showing the id. Neither
answer touches the database.
"""

import logging
import re
import sys
import uuid

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure

REQUEST_ID_HEADER = "X-Request-ID"
# What load balancers and tracers send: hex, UUIDs, base64-like tokens.
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,200}")
DATABASE_ERRORS = (OperationalError, InterfaceError)
RETRY_AFTER_SECONDS = 30
DATABASE_DOWN = "The database is unreachable; try again in a moment."
INTERNAL_ERROR = "Internal error; it has been logged. Quote the request id to the admins."

logger = logging.getLogger("retry_admin.errors")


def request_id(request: HttpRequest) -> str:
    return getattr(request, "request_id", "")


def log_unhandled(request: HttpRequest, exc: BaseException, what: str = "Unhandled error") -> None:
    """One ERROR line with the traceback, the request and its id."""
    logger.error(
        "%s on %s %s [request %s]: %r",
        what,
        request.method,
        request.path,
        request_id(request),
        exc,
        exc_info=(type(exc), exc, exc.__traceback__),
    )


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_json(request: HttpRequest, message: str, status: int) -> JsonResponse:
    """The API's error shape, with the request id."""
    body = {"success": False, "message": message, "request_id": request_id(request)}
    return JsonResponse(body, status=status)


def _error_page(request: HttpRequest, template: str, status: int) -> HttpResponse:
    # No request in the context: context processors would read the session and user.
    html = render_to_string(template, {"request_id": request_id(request)})
    return HttpResponse(html, status=status)


def database_unavailable(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        response = error_json(request, DATABASE_DOWN, 503)
    else:
        response = _error_page(request, "503.html", 503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """``CSRF_FAILURE_VIEW``: the API's JSON under /api/ (a token needs no CSRF
    token), Django's page elsewhere."""
    if _is_api(request):
        return error_json(
            request,
            "CSRF check failed: send Authorization: Bearer <token>, or, signed in, "
            "the session's CSRF token in an X-CSRFToken header.",
            403,
        )
    return django_csrf_failure(request, reason)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400`` (a disallowed Host, a malformed request): JSON under /api/."""
    if _is_api(request):
        return error_json(request, "Bad request: the request was malformed or refused.", 400)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: Django calls it inside its ``except``. A database error
    raised outside a view (a middleware saving the session) is still a 503."""
    if isinstance(sys.exc_info()[1], DATABASE_ERRORS):
        return database_unavailable(request)
    if _is_api(request):
        return error_json(request, INTERNAL_ERROR, 500)
    return _error_page(request, "500.html", 500)


class RequestIdMiddleware:
    """First in MIDDLEWARE, so every response, even an error, gets the header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        sane = _SANE_REQUEST_ID.fullmatch(incoming)
        request.request_id = incoming if sane else uuid.uuid4().hex
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request.request_id
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, DATABASE_ERRORS):
            log_unhandled(request, exception, "Database unreachable")
            return database_unavailable(request)
        return None


@receiver(got_request_exception, dispatch_uid="retry_admin.errors.log")
def _log_request_exception(sender, request=None, **kwargs) -> None:
    """Django sends this, inside its ``except``, for every error that becomes
    a 500 (views and middleware alike); DEBUG or not, the traceback is logged."""
    exc = sys.exc_info()[1]
    if request is not None and exc is not None:
        log_unhandled(request, exc)
