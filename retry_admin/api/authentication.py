from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import TokenAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed


class BearerTokenAuthentication(TokenAuthentication):
    """DRF tokens sent as ``Authorization: Bearer <token>`` (what existing
    clients send) as well as DRF's own ``Token <token>``."""

    keyword = "Bearer"  # the first word of WWW-Authenticate on a 401
    keywords = (b"bearer", b"token")

    def authenticate(self, request):
        # TokenAuthentication knows one keyword; rewriting META to translate the
        # other does not work, as DRF reads the (cached) request.headers.
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() not in self.keywords:
            return None
        if len(parts) == 1:
            raise AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain spaces."
            )
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters."
            ) from None
        return self.authenticate_credentials(key)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """How drf-spectacular documents ``BearerTokenAuthentication``."""

    target_class = BearerTokenAuthentication
    name = "bearerAuth"
    priority = 1

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "A DRF token: `manage.py drf_create_token <username>` or the Django admin. "
                "Send `Authorization: Bearer <token>`."
            ),
        }
