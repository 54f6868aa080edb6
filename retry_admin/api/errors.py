"""Every API error is JSON: ``{"success": false, "message": ..., "errors": {...}}``.

``message`` is one sentence saying what was wrong; ``errors`` (validation only)
names each bad field. Domain exceptions from services and selectors are mapped
to HTTP statuses here, once, so views never catch them.
"""

import logging

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from retry_admin.errors import (
    DATABASE_DOWN,
    DATABASE_ERRORS,
    INTERNAL_ERROR,
    RETRY_AFTER_SECONDS,
    error_json,
    log_unhandled,
)
from retry_admin.queues import QueueError
from retry_admin.services.batches import (
    BatchValidationError,
    IdempotencyKeyReused,
    TooManyRecipients,
)
from retry_admin.services.bulk import PreviewExpired

logger = logging.getLogger(__name__)

NON_FIELD = "non_field_errors"


def _flatten(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as ``{"field" | "field[2].key": [messages]}``."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(key, int):
                name = f"{prefix}[{key}]"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in _flatten(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(detail, list):
        flat = {}
        for item in detail:
            for field, messages in _flatten(item, prefix).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    return {prefix or NON_FIELD: [str(detail)]}


def _summary(errors: dict[str, list[str]]) -> str:
    parts = [
        messages[0] if field == NON_FIELD else f"{field}: {messages[0]}"
        for field, messages in list(errors.items())[:3]
    ]
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return "Invalid request: " + "; ".join(parts) + more


def error_body(message: str, errors: dict[str, list[str]] | None = None) -> dict:
    body = {"success": False, "message": message}
    if errors:
        body["errors"] = errors
    return body


def validation_error(errors: dict[str, list[str]]) -> Response:
    return Response(error_body(_summary(errors), errors), status=status.HTTP_400_BAD_REQUEST)


def _batch_errors(exc: BatchValidationError) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        errors.setdefault("recipients" if error.line else "batch", []).append(str(error))
    return errors


def exception_handler(exc, context):
    """REST_FRAMEWORK["EXCEPTION_HANDLER"]."""
    if isinstance(exc, IdempotencyKeyReused):  # as Stripe answers a reused key
        return Response(error_body(str(exc), {"Idempotency-Key": [str(exc)]}), status=422)
    if isinstance(exc, BatchValidationError):
        # More recipients than a batch takes: too large, like a body over its limit.
        code = 413 if isinstance(exc, TooManyRecipients) else 400
        return Response(error_body(str(exc), _batch_errors(exc)), status=code)
    if isinstance(exc, DjangoValidationError):
        errors = (
            {field: list(messages) for field, messages in exc.message_dict.items()}
            if hasattr(exc, "error_dict")
            else {NON_FIELD: list(exc.messages)}
        )
        return validation_error(errors)
    if isinstance(exc, PreviewExpired):
        return Response(error_body(str(exc), {"token": [str(exc)]}), status=400)
    if isinstance(exc, DATABASE_ERRORS):
        log_unhandled(context["request"], exc, "Database unreachable")
        response = error_json(context["request"], DATABASE_DOWN, 503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    if isinstance(exc, QueueError):
        logger.warning("Queue unavailable for %s: %s", context["request"].path, exc)
        return Response(error_body(f"The queue is unavailable: {exc}"), status=503)

    response = drf_exception_handler(exc, context)
    if response is None:
        # A bug. Logged with its traceback and request id; the client still gets JSON.
        log_unhandled(context["request"], exc)
        return error_json(context["request"], INTERNAL_ERROR, 500)
    if isinstance(exc, exceptions.ValidationError):
        response.data = error_body(_summary(_flatten(exc.detail)), _flatten(exc.detail))
    elif isinstance(exc, Http404):
        response.data = error_body("Not found.")
    else:
        detail = response.data.get("detail", "") if isinstance(response.data, dict) else ""
        response.data = error_body(str(detail) or "Request refused.")
    return response


@csrf_exempt  # it changes nothing: an unsafe method gets the same JSON 404, not a CSRF page
def api_not_found(request, *args, **kwargs):
    """Unknown paths under /api/ answer JSON, not Django's HTML 404 page."""
    return JsonResponse(
        error_body(f"No API endpoint at {request.path}; the API is described at /api/docs/"),
        status=404,
    )
