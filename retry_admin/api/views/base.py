from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from retry_admin.api.parsers import BoundedJSONParser, default_body_limit


class JSONOnly(DefaultContentNegotiation):
    """Always JSON: no 404 for a stray ``?format=`` and no 406 for an odd Accept."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiView(APIView):
    # JSON in, JSON out: the schema documents exactly one media type each way.
    # (A comment, not a docstring: drf-spectacular would show it on every operation.)
    parser_classes = [BoundedJSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly

    def max_body_bytes(self) -> int:
        return default_body_limit()


def parsed(serializer_class, data, **kwargs) -> dict:
    """Validated data, or a 400 naming each bad field."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
