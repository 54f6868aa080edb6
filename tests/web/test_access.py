"""Sign-in, roles and the 403 that changes nothing (docs/design.md, Roles)."""

import pytest
from django.test import Client

from retry_admin.models import AuditEvent, MessageLog, QueueMessage, Status

pytestmark = pytest.mark.django_db

PAGES = ["/", "/messages/", "/failures/", "/dlq/", "/batches/", "/health/"]


def _actions(batch) -> list[tuple[str, dict]]:
    message = MessageLog.objects.filter(batch=batch).first()
    return [
        (f"/messages/{message.pk}/retry/", {}),
        ("/messages/retry/", {"ids": [str(message.pk)]}),
        ("/failures/bulk/preview/", {"status": "failed"}),
        ("/failures/bulk/run/", {"token": "x"}),
        ("/dlq/preview/", {"scope": "all"}),
        ("/dlq/replay/", {"scope": "all", "count": "10"}),
        ("/dlq/purge/", {"scope": "all", "confirm": "PURGE"}),
        ("/retry-cycle/", {}),
        ("/batches/new/preview/", {"template": "1"}),
        ("/templates/new/", {"template_name": "x", "template_body": "y"}),
    ]


@pytest.mark.parametrize("url", [*PAGES, "/batches/new/"])
def test_it_sends_anonymous_visitors_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_an_expired_session_on_a_live_fragment_reloads_the_page_instead(client):
    response = client.get("/", HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert response["HX-Redirect"].startswith("/accounts/login/")


def test_the_login_page_signs_in_and_lands_on_the_overview(super_admin):
    client = Client()
    page = client.get("/accounts/login/")
    assert b'name="password"' in page.content

    response = client.post("/accounts/login/", {"username": "super", "password": "pw-super"})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.get("/").status_code == 200


def test_a_wrong_password_says_so(super_admin):
    response = Client().post("/accounts/login/", {"username": "super", "password": "nope"})

    assert response.status_code == 200
    assert b"did not match" in response.content


def test_a_user_without_staff_or_role_is_refused(django_user_model):
    user = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    client = Client()
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 403
    assert b"no access" in response.content


@pytest.mark.parametrize("url", ["/", "/messages/", "/dlq/", "/batches/new/", "/health/"])
def test_a_user_without_staff_or_role_gets_one_plain_no_access_page(django_user_model, url):
    user = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    client = Client()
    client.force_login(user)

    html = client.get(url).content.decode()

    assert "No access" in html and "outsider" in html
    assert "/accounts/logout/" in html and "Sign out" in html
    assert 'data-testid="role"' not in html and "Viewer" not in html
    for link in ('href="/messages/"', 'href="/dlq/"', 'href="/"', 'href="/health/"'):
        assert link not in html  # no links into pages that would refuse again
    posted = client.post("/retry-cycle/")
    assert posted.status_code == 403 and "No access" in posted.content.decode()


@pytest.mark.parametrize("url", PAGES)
def test_a_viewer_sees_every_page_without_action_buttons(viewer_client, batch_with_failures, url):
    response = viewer_client.get(url)

    assert response.status_code == 200
    html = response.content.decode()
    assert "Viewer (read-only)" in html
    for marker in ("hx-post", 'method="post" action="/retry-cycle/', "New batch", 'name="ids"'):
        assert marker not in html, f"{marker!r} shown to a viewer on {url}"


def test_a_viewer_cannot_open_the_batch_form(viewer_client):
    response = viewer_client.get("/batches/new/")

    assert response.status_code == 403


def test_every_action_refuses_a_viewer_and_changes_nothing(viewer_client, batch_with_failures):
    before = (
        list(MessageLog.objects.order_by("id").values_list("id", "status", "updated_at")),
        QueueMessage.objects.count(),
        AuditEvent.objects.count(),
    )
    for url, data in _actions(batch_with_failures):
        response = viewer_client.post(url, data)
        assert response.status_code == 403, url
        htmx = viewer_client.post(url, data, HTTP_HX_REQUEST="true")
        assert htmx.status_code == 403, url
        assert htmx["Content-Type"].startswith("text/plain")
        assert b"ask a Super Admin" in htmx.content or b"Super Admin" in htmx.content

    after = (
        list(MessageLog.objects.order_by("id").values_list("id", "status", "updated_at")),
        QueueMessage.objects.count(),
        AuditEvent.objects.count(),
    )
    assert after == before


def test_actions_are_post_only(super_client, batch_with_failures):
    for url, _ in _actions(batch_with_failures):
        assert super_client.get(url).status_code == 405, url


def test_a_system_admin_may_act_but_not_purge(system_client, make_dead_lettered):
    make_dead_lettered(2)

    page = system_client.get("/dlq/").content.decode()
    purge = system_client.post("/dlq/purge/", {"scope": "all", "confirm": "PURGE"})
    purge_preview = system_client.post("/dlq/preview/", {"scope": "all", "purge": "1"})

    assert "Replay all" in page
    assert "Purge" not in page
    assert purge.status_code == 403
    assert purge_preview.status_code == 403
    assert MessageLog.objects.filter(status=Status.DEAD_LETTERED).count() == 2


def test_csrf_stays_on_for_htmx_posts(super_admin, batch_with_failures):
    client = Client(enforce_csrf_checks=True)
    client.force_login(super_admin)
    message = MessageLog.objects.filter(batch=batch_with_failures).first()

    forged = client.post(f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true")
    page = client.get("/messages/")
    token = page.cookies["csrftoken"].value
    allowed = client.post(
        f"/messages/{message.pk}/retry/", HTTP_HX_REQUEST="true", HTTP_X_CSRFTOKEN=token
    )

    assert forged.status_code == 403
    assert "x-csrftoken" in page.content.decode()  # hx-headers on <body>
    assert allowed.status_code == 200
