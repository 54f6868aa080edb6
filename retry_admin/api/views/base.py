from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView


class ApiView(APIView):
    # JSON in, JSON out: the schema documents exactly one media type each way.
    # (A comment, not a docstring: drf-spectacular would show it on every operation.)
    parser_classes = [JSONParser]
    renderer_classes = [JSONRenderer]


def parsed(serializer_class, data, **kwargs) -> dict:
    """Validated data, or a 400 naming each bad field."""
    serializer = serializer_class(data=data, **kwargs)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
