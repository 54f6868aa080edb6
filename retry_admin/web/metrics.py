"""``/metrics``: the Prometheus exposition (retry_admin/selectors/metrics.py).

A scraper sends ``Authorization: Bearer <METRICS_TOKEN>``; a signed-in
console user may also look. Without ``METRICS_TOKEN`` only console users can
(docs/metrics.md)."""

import hmac

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from retry_admin import roles
from retry_admin.selectors.metrics import metrics_registry


def _token_matches(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return (
        bool(token)
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.encode())
    )


@require_GET
@never_cache
def metrics(request: HttpRequest) -> HttpResponse:
    if not (_token_matches(request) or roles.can_view(request.user)):
        if request.user.is_authenticated:
            return HttpResponse(
                "Your account has no access to Retry Admin.\n",
                status=403,
                content_type="text/plain; charset=utf-8",
            )
        answer = HttpResponse(
            "Send Authorization: Bearer <METRICS_TOKEN>, or sign in to the console.\n"
            if settings.METRICS_TOKEN
            else "METRICS_TOKEN is not set: only signed-in console users may read /metrics.\n",
            status=401,
            content_type="text/plain; charset=utf-8",
        )
        answer["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return answer
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_PLAIN_0_0_4)
