from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView


class JSONOnly(DefaultContentNegotiation):
    """Always JSON: no 404 for a stray ``?format=`` and no 406 for an odd Accept."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiView(APIView):
    # JSON in, JSON out: the schema documents exactly one media type each way.
    # (A comment, not a docstring: drf-spectacular would show it on every operation.)
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]
    content_negotiation_class = JSONOnly


def parsed(serializer_class, data, **kwargs) -> dict:
    """Validated data, or a 400 naming each bad field."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
