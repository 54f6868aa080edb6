"""Sign-in is throttled per username and address: after LOGIN_FAILURE_LIMIT
wrong passwords even the right one is refused for LOGIN_COOLOFF_MINUTES, with
a page that says so. Other accounts, other addresses and API tokens are not
affected."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone

from tests.api.conftest import bearer

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"


def _sign_in(client: Client, username: str, password: str, address: str = "10.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def _signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_it_refuses_the_right_password_after_50_wrong_ones(super_admin):
    client = Client()
    for _ in range(50):
        _sign_in(client, "super", "wrong")

    response = _sign_in(client, "super", "pw-super")

    assert response.status_code == 429
    html = response.content.decode()
    assert "Too many failed sign-ins" in html
    assert "15 minutes" in html
    assert 'name="username"' in html  # still the sign-in page
    assert not _signed_in(client)


def test_it_locks_after_the_configured_number_of_failures(super_admin, settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    client = Client()
    for _ in range(4):
        assert _sign_in(client, "super", "wrong").status_code == 200
    assert _sign_in(client, "super", "pw-super").status_code == 302  # 4 < 5: still allowed
    client.post("/accounts/logout/")

    for _ in range(5):
        _sign_in(client, "super", "wrong")

    assert _sign_in(client, "super", "pw-super").status_code == 429


def test_a_lockout_touches_neither_other_accounts_nor_other_addresses(super_admin, viewer):
    for _ in range(6):
        _sign_in(Client(), "super", "wrong")

    assert _sign_in(Client(), "viewer", "pw-viewer").status_code == 302
    assert _sign_in(Client(), "super", "pw-super", address="10.0.0.2").status_code == 302


def test_the_lockout_ends_after_the_cool_off(super_admin):
    for _ in range(6):
        _sign_in(Client(), "super", "wrong")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))

    client = Client()
    assert _sign_in(client, "super", "pw-super").status_code == 302
    assert _signed_in(client)


def test_api_tokens_still_work_for_a_locked_out_account(super_admin):
    for _ in range(6):
        _sign_in(Client(), "super", "wrong", address="127.0.0.1")

    response = bearer(super_admin).get("/api/Diagnostics/QueueStatus", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
