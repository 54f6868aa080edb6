"""Who gets in: Bearer tokens (what existing clients send), DRF's own Token
keyword, sessions with CSRF, and JSON for every refusal."""

import io

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

STATS = "/api/Statistics/GetMessageStatusStats"
TRIGGER = "/api/campaigns/retry-failed-messages"


def test_it_accepts_a_bearer_token(viewer):
    token = Token.objects.create(user=viewer)
    client = APIClient(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert client.get(STATS).status_code == 200


def test_it_accepts_drf_token_keyword_too(viewer):
    token = Token.objects.create(user=viewer)
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get(STATS).status_code == 200


def test_a_token_from_drf_create_token_works(super_admin):
    out = io.StringIO()
    call_command("drf_create_token", "super", stdout=out)
    key = Token.objects.get(user=super_admin).key
    assert key in out.getvalue()

    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {key}").post(f"{TRIGGER}?dryRun=true")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("Bearer not-a-real-token", "Invalid token"),
        ("Bearer", "No credentials provided"),
        ("Bearer two words", "should not contain spaces"),
        ("Basic dXNlcjpwdw==", "credentials were not provided"),
    ],
)
def test_it_refuses_bad_credentials_with_401_json(db, header, fragment):
    response = APIClient(HTTP_AUTHORIZATION=header).get(STATS)
    assert_error(response, 401, fragment)
    assert response["WWW-Authenticate"] == "Bearer"


def test_a_token_of_a_deactivated_user_is_refused(viewer):
    token = Token.objects.create(user=viewer)
    viewer.is_active = False
    viewer.save()
    response = APIClient(HTTP_AUTHORIZATION=f"Bearer {token.key}").get(STATS)
    assert_error(response, 401, "inactive")


def test_the_console_session_works_and_needs_csrf_for_actions(super_admin):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(super_admin)

    assert client.get(STATS).status_code == 200
    assert_error(client.post(f"{TRIGGER}?dryRun=true"), 403, "CSRF")


def test_unknown_api_paths_answer_json(as_viewer, anonymous):
    assert_error(as_viewer.get("/api/nope"), 404, "/api/nope", "/api/docs/")
    assert_error(anonymous.get("/api/batches"), 404)
    assert_error(as_viewer.get("/api/batches/%0A/"), 404)


def test_it_answers_405_json_for_an_unsupported_method(as_super):
    assert_error(as_super.put("/api/batches/", {}, format="json"), 405, "PUT")
