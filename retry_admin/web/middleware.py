"""Console forms larger than Django reads get a page that names the limit.

The CSRF check reads a POST's form before any view runs, and a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` (or with too many fields) ends there as a bare
400 "Bad Request". This middleware reads the form first and, if it is too
large, answers itself (the batch form explains pasting versus uploading). The
API reads its own bodies and answers in JSON.
"""

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve

from retry_admin.web import batches
from retry_admin.web.access import too_large
from retry_admin.web.forms import size_label

_TOO_LARGE = (RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent)


class FormTooLargeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and not request.path_info.startswith("/api/"):
            try:
                request.POST  # noqa: B018 -- parsed here, so the limit can be explained
            except _TOO_LARGE as exc:
                return _refuse(request, exc)
        return self.get_response(request)


def _refuse(request: HttpRequest, exc: Exception) -> HttpResponse:
    try:
        name = resolve(request.path_info).url_name
    except Resolver404:
        name = None
    if isinstance(exc, RequestDataTooBig) and name in ("batch_new", "batch_preview"):
        return batches.batch_form_too_large(request, preview=name == "batch_preview")
    if isinstance(exc, RequestDataTooBig):
        limit = f"the {size_label(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)} the console accepts"
    else:
        limit = "the number of fields or files the console accepts"
    return too_large(request, f"The form sent is larger than {limit}. Nothing was changed.")
