"""Every endpoint for every caller: anonymous 401, viewer 403 on actions,
purge for Super Admin only (rules in retry_admin/roles.py)."""

import pytest

from tests.api.conftest import bearer, message_ids

pytestmark = pytest.mark.django_db

VIEW, ACT, PURGE = "view", "act", "purge"
ENDPOINTS = [
    ("post", "/api/campaigns/retry-failed-messages", None, ACT),
    ("get", "/api/Diagnostics/QueueStatus", None, VIEW),
    ("get", "/api/Statistics/GetMessageStatusStats", None, VIEW),
    ("get", "/api/batches/", None, VIEW),
    (
        "post",
        "/api/batches/",
        {"template": "Greeting", "recipients": [{"recipient": "a@example.com", "name": "A"}]},
        ACT,
    ),
    ("get", "/api/batches/{batch}/", None, VIEW),
    ("get", "/api/messages/", None, VIEW),
    ("get", "/api/messages/{message}/", None, VIEW),
    ("post", "/api/messages/{message}/retry", None, ACT),
    ("post", "/api/messages/retry", {"ids": ["{message}"]}, ACT),
    ("get", "/api/dlq/", None, VIEW),
    ("post", "/api/dlq/replay", {"all": True}, ACT),
    ("delete", "/api/dlq/?confirm=purge", None, PURGE),
]
ALLOWED = {
    "super_admin": {VIEW, ACT, PURGE},
    "system_admin": {VIEW, ACT},
    "viewer": {VIEW},
    "anonymous": set(),
}


def _fill(value, names: dict):
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [_fill(item, names) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, names) for key, item in value.items()}
    return value


@pytest.mark.parametrize("caller", list(ALLOWED))
@pytest.mark.parametrize(("method", "path", "body", "kind"), ENDPOINTS)
def test_it_lets_each_caller_do_what_its_role_allows(
    request, batch_with_failures, live_worker, caller, method, path, body, kind
):
    user = None if caller == "anonymous" else request.getfixturevalue(caller)
    names = {"batch": batch_with_failures.pk, "message": message_ids(batch_with_failures)[0]}

    response = getattr(bearer(user), method)(_fill(path, names), _fill(body, names), format="json")

    if kind in ALLOWED[caller]:
        assert response.status_code in (200, 201, 202), response.content
        assert response.json()
    else:
        assert response.status_code == (401 if user is None else 403), response.content
        assert response.json()["success"] is False
        assert response.json()["message"]
