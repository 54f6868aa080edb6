from django.contrib import admin
from django.urls import include, path

from retry_admin.web.health import healthz, healthz_live

urlpatterns = [
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("healthz/live", healthz_live, name="healthz_live"),
    path("api/", include("retry_admin.api.urls")),
    path("", include("retry_admin.web.urls")),
]

# Rendered without the database, showing the request id (retry_admin/errors.py).
handler500 = "retry_admin.errors.server_error"
handler400 = "retry_admin.errors.bad_request"  # JSON under /api/
