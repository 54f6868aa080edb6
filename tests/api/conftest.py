import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from retry_admin.models import MessageLog
from retry_admin.queues import get_backend


def bearer(user) -> APIClient:
    """A client that sends ``Authorization: Bearer <token>`` for ``user``."""
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    return client


@pytest.fixture
def as_super(super_admin) -> APIClient:
    return bearer(super_admin)


@pytest.fixture
def as_system(system_admin) -> APIClient:
    return bearer(system_admin)


@pytest.fixture
def as_viewer(viewer) -> APIClient:
    return bearer(viewer)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


def dlq_ids() -> list[str]:
    return [entry.id for entry in get_backend().dlq_peek(limit=1000)]


def message_ids(batch) -> list:
    return list(MessageLog.objects.filter(batch=batch).order_by("id").values_list("id", flat=True))


def assert_error(response, status: int, *fragments: str) -> dict:
    """A JSON error with a message that says what was wrong."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["success"] is False
    assert body["message"]
    text = (body["message"] + " " + str(body.get("errors", ""))).lower()
    for fragment in fragments:
        assert fragment.lower() in text, (fragment, body)
    return body
