"""The OpenAPI schema and its browsable docs: for staff (session or token)
unless ``API_DOCS_PUBLIC``; the docs page sends an anonymous browser to sign in."""

from django.contrib.auth.views import redirect_to_login
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.exceptions import NotAuthenticated
from rest_framework.renderers import JSONRenderer

from retry_admin.api.permissions import CanReadDocs


class _JSONErrors:
    """Refusals as the API's JSON errors, not in the view's own format (YAML, HTML)."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = JSONRenderer.media_type
        return response


class SchemaView(_JSONErrors, SpectacularAPIView):
    permission_classes = [CanReadDocs]


class DocsView(_JSONErrors, SpectacularSwaggerSplitView):
    """Swagger UI with its start-up script served as a file (``?script``), so
    the Content-Security-Policy needs no inline scripts."""

    permission_classes = [CanReadDocs]
    template_name = "retry_admin/swagger_ui.html"

    def handle_exception(self, exc):
        if isinstance(exc, NotAuthenticated) and "script" not in self.request.GET:
            return redirect_to_login(self.request.get_full_path())
        return super().handle_exception(exc)
