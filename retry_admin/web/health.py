from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from retry_admin.services.health import health_check


@require_GET
@never_cache
def healthz(request):
    """No auth: for load balancers and monitors. 200 healthy, 503 not."""
    report = health_check()
    return JsonResponse(report, status=200 if report["healthy"] else 503)
