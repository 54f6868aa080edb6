"""Who may open and do what, everywhere: every page, fragment, action and API
endpoint (each method it allows) by anonymous, a signed-in non-staff account,
a staff viewer, System Admin and Super Admin, against a table written out here.

The rules (README, "The console" and "The API"): pages send anonymous
visitors to sign in, the API answers them 401 JSON; a signed-in account that is
neither staff nor a role holder gets 403 everywhere; a viewer reads
everything and gets 403 on every action; System Admin acts but may not purge
the DLQ; Super Admin does everything; /healthz is public. The URL conf is
enumerated too: a route the table does not cover fails the test, so a new
route cannot be forgotten.
"""

import json
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.authtoken.models import Token

from retry_admin.api.urls import seed_alias
from retry_admin.models import MessageLog
from retry_admin.queues import get_backend
from retry_admin.roles import SUPER_ADMIN, SYSTEM_ADMIN, ensure_groups

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "non_staff", "viewer", "system", "super")
LOGIN = "login"  # a redirect to the sign-in page

# Each row: (route as in the URL conf, method, URL to call, body) -> one expected
# answer per role, in ROLES order. {batch}, {message}, {dead}, {template} are filled in.
PAGE = (LOGIN, 403, 200, 200, 200)
ACTION = (LOGIN, 403, 403, 200, 200)
API_READ = (401, 403, 200, 200, 200)
API_ACT = (401, 403, 403, 200, 200)
API_TRIGGER = (401, 403, 403, 202, 202)  # queued for the (live) worker

TABLE: dict[tuple[str, str], tuple] = {}


def row(
    route: str,
    method: str,
    url: str,
    expected: tuple,
    body: dict | None = None,
    *,
    htmx: tuple | None = None,
) -> None:
    """``htmx``: the answers to an htmx request, where they differ."""
    TABLE[(route, method)] = (url, body or {}, expected, htmx or expected)


# Sign-in
row("accounts/login/", "GET", "/accounts/login/", (200, 302, 302, 302, 302))
row("accounts/logout/", "POST", "/accounts/logout/", (LOGIN,) * 5)
# Pages and their live fragments (the same URLs with HX-Request)
row("", "GET", "/", PAGE)
row("messages/", "GET", "/messages/", PAGE)
row("messages/<uuid:pk>/", "GET", "/messages/{message}/", PAGE)
row("failures/", "GET", "/failures/", PAGE)
row(
    "failures/bulk/progress/",
    "GET",
    "/failures/bulk/progress/?actor=super&since=2026-01-01T00:00:00Z&until=2026-01-01T00:01:00Z",
    PAGE,
)
row("dlq/", "GET", "/dlq/", PAGE)
row("batches/", "GET", "/batches/", PAGE)
row("batches/<int:pk>/", "GET", "/batches/{batch}/", PAGE)
row("batches/new/", "GET", "/batches/new/", (LOGIN, 403, 403, 200, 200))
row("health/", "GET", "/health/", PAGE)
row("alerts/", "GET", "/alerts/", PAGE)
row(
    "alerts/<str:kind>/",
    "POST",
    "/alerts/dlq_depth/",
    (LOGIN, 403, 403, 403, 302),  # Super Admin only (roles.can_manage_alerts)
    {"threshold": "5", "enabled": "on"},
)
# Prometheus: a signed-in console user or METRICS_TOKEN; 401 with a challenge otherwise.
row("metrics", "GET", "/metrics", (401, 403, 200, 200, 200))
# Actions
row("retry-cycle/", "POST", "/retry-cycle/", (LOGIN, 403, 403, 302, 302))
row("messages/retry/", "POST", "/messages/retry/", ACTION, {"ids": ["{message}"]})
row(
    "messages/<uuid:pk>/retry/",
    "POST",
    "/messages/{message}/retry/",
    (LOGIN, 403, 403, 302, 302),
    htmx=(LOGIN, 403, 403, 200, 200),  # the message's row, swapped in place
)
row("failures/bulk/preview/", "POST", "/failures/bulk/preview/", ACTION, {"status": "failed"})
row("failures/bulk/run/", "POST", "/failures/bulk/run/", ACTION, {"token": "x"})
row("dlq/preview/", "POST", "/dlq/preview/", ACTION, {"ids": ["{dead}"]})
row("dlq/replay/", "POST", "/dlq/replay/", ACTION, {"ids": ["{dead}"]})
row(
    "dlq/purge/",
    "POST",
    "/dlq/purge/",
    (LOGIN, 403, 403, 403, 200),
    {"ids": ["{dead}"], "confirm": "PURGE"},
)
row(
    "batches/new/",
    "POST",
    "/batches/new/",
    (LOGIN, 403, 403, 302, 302),
    {
        "name": "x",
        "template": "{template}",
        "channel": "log",
        "recipients": "recipient,name\na@example.com,A\n",
        "idempotency_key": "k",
    },
)
row("batches/new/preview/", "POST", "/batches/new/preview/", ACTION)
row("templates/new/", "POST", "/templates/new/", ACTION, {"template_name": "T"})
# API (a token for every signed-in role)
row(
    "api/campaigns/retry-failed-messages",
    "POST",
    "/api/campaigns/retry-failed-messages",
    API_TRIGGER,
)
row("api/campaigns/retry-status", "GET", "/api/campaigns/retry-status", API_READ)
row("api/Diagnostics/QueueStatus", "GET", "/api/Diagnostics/QueueStatus", API_READ)
row(
    "api/Statistics/GetMessageStatusStats", "GET", "/api/Statistics/GetMessageStatusStats", API_READ
)
row(
    "api/Batch/CreateBatchAndSend",
    "POST",
    "/api/Batch/CreateBatchAndSend",
    (401, 403, 403, 201, 201),
    {"template": "Greeting", "recipients": [{"recipient": "b@example.com", "name": "B"}]},
)
# The seed routes in any letter case, with a trailing slash (api/urls.py)
row(
    "api/" + seed_alias("campaigns/retry-failed-messages"),
    "POST",
    "/api/Campaigns/Retry-Failed-Messages/",
    API_TRIGGER,
)
row("api/" + seed_alias("campaigns/retry-status"), "GET", "/api/Campaigns/Retry-Status/", API_READ)
row("api/" + seed_alias("Diagnostics/QueueStatus"), "GET", "/api/diagnostics/queuestatus", API_READ)
row(
    "api/" + seed_alias("Statistics/GetMessageStatusStats"),
    "GET",
    "/api/statistics/getmessagestatusstats/",
    API_READ,
)
row(
    "api/" + seed_alias("Batch/CreateBatchAndSend"),
    "POST",
    "/api/batch/createbatchandsend",
    (401, 403, 403, 201, 201),
    {"template": "Greeting", "recipients": [{"recipient": "c@example.com", "name": "C"}]},
)
row("api/batches/", "GET", "/api/batches/", API_READ)
row(
    "api/batches/",
    "POST",
    "/api/batches/",
    (401, 403, 403, 201, 201),
    {"template": "Greeting", "recipients": [{"recipient": "a@example.com", "name": "A"}]},
)
row("api/batches/<int:pk>/", "GET", "/api/batches/{batch}/", API_READ)
row("api/messages/", "GET", "/api/messages/", API_READ)
row("api/messages/retry", "POST", "/api/messages/retry", API_ACT, {"ids": ["{message}"]})
row("api/messages/<str:pk>/", "GET", "/api/messages/{message}/", API_READ)
row("api/messages/<str:pk>/retry", "POST", "/api/messages/{message}/retry", API_ACT)
row("api/dlq/", "GET", "/api/dlq/", API_READ)
row("api/dlq/", "DELETE", "/api/dlq/", (401, 403, 403, 403, 200), {"confirm": "purge"})
row("api/dlq/replay", "POST", "/api/dlq/replay", API_ACT, {"ids": ["{dead}"]})
row("api/schema/", "GET", "/api/schema/", API_READ)
row("api/docs/", "GET", "/api/docs/", (LOGIN, 403, 200, 200, 200))
row("api/^[\\s\\S]*$", "GET", "/api/nope", (404,) * 5)  # unknown to anyone
# Public
row("healthz", "GET", "/healthz", (503, 503, 503, 503, 503))
row("healthz/live", "GET", "/healthz/live", (200, 200, 200, 200, 200))  # no login
row("admin/", "GET", "/admin/", (302, 302, 200, 200, 200))  # Django's own: is_staff


def _routes(resolver: URLResolver = None, prefix: str = "") -> set[str]:
    """Every route of the URL conf as written (``api/batches/<int:pk>/``)."""
    routes = set()
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if route == "admin/":
                routes.add(route)  # Django's admin guards itself (staff only)
            else:
                routes |= _routes(entry, route)
        elif isinstance(entry, URLPattern):
            routes.add(route)
    return routes


def _api_methods(route: str) -> set[str]:
    match = get_resolver().resolve("/" + route.replace("<int:pk>", "1").replace("<str:pk>", "x"))
    view = getattr(match.func, "cls", None)
    if view is None:
        return {"GET"}
    return {m.upper() for m in view.http_method_names if hasattr(view, m)} - {"OPTIONS", "HEAD"}


def test_the_table_covers_every_route_and_every_method_of_the_api():
    covered = {route for route, _ in TABLE}
    assert _routes() - covered == set(), "add the new routes to TABLE"
    assert covered - _routes() == set(), "TABLE names routes that no longer exist"
    for route in (r for r in covered if r.startswith("api/") and "^" not in r):
        methods = {method for r, method in TABLE if r == route}
        assert _api_methods(route) == methods, route


@pytest.fixture
def users(django_user_model, super_admin, system_admin, viewer) -> dict:
    ensure_groups()
    outsider = django_user_model.objects.create_user("outsider", password="pw-outsider-1")
    assert not Group.objects.filter(user=outsider).exists()
    assert set(super_admin.groups.values_list("name", flat=True)) == {SUPER_ADMIN}
    assert set(system_admin.groups.values_list("name", flat=True)) == {SYSTEM_ADMIN}
    assert viewer.is_staff and not viewer.groups.exists()
    return {"non_staff": outsider, "viewer": viewer, "system": system_admin, "super": super_admin}


def _client(users: dict, role: str, *, api: bool) -> Client:
    """A fresh client per cell (signing out in one cell must not sign out the next):
    a session for pages, a token for the API."""
    if role == "anonymous":
        return Client()
    if api:
        token, _ = Token.objects.get_or_create(user=users[role])
        return Client(headers={"Authorization": f"Bearer {token.key}"})
    client = Client()
    client.force_login(users[role])
    return client


def _fill(text: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        text = text.replace("{" + name + "}", value)
    return text


def _answer(response) -> int | str:
    location = response.get("Location", "")
    if response.status_code == 302 and location.startswith("/accounts/login/"):
        return LOGIN
    if response.get("HX-Redirect", "").startswith("/accounts/login/"):
        return LOGIN  # htmx reloads the whole page there
    return response.status_code


@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_every_cell_of_the_access_matrix(
    users, batch_with_failures, make_dead_lettered, live_worker, htmx
):
    """Console URLs answer the same whether the browser asks for the page or
    htmx for a fragment of it; only the form of a sign-in redirect differs."""
    make_dead_lettered(2)
    headers = {"HX-Request": "true"} if htmx else {}
    ids = {
        "batch": str(batch_with_failures.pk),
        "message": str(MessageLog.objects.filter(batch=batch_with_failures).first().pk),
        "dead": get_backend().dlq_peek(limit=1)[0].id,
        "template": str(batch_with_failures.template_id),
    }
    wrong = []
    for (route, method), (url, body, plain, as_htmx) in TABLE.items():
        expected = as_htmx if htmx else plain
        url = _fill(url, ids)
        api = route.startswith("api/") and route != "api/docs/"
        data = json.loads(_fill(json.dumps(body), ids))
        for role, want in zip(ROLES, expected, strict=True):
            client = _client(users, role, api=api)
            with transaction.atomic():  # each cell starts from the same data
                if method == "GET":
                    response = client.get(url, headers=headers)
                elif api:
                    response = client.generic(method, url, json.dumps(data), "application/json")
                else:
                    form = urlencode(data, doseq=True)
                    response = client.generic(
                        method, url, form, "application/x-www-form-urlencoded", headers=headers
                    )
                got = _answer(response)
                transaction.set_rollback(True)
            if got != want:
                wrong.append(f"{method} {url} as {role}: expected {want}, got {got}")
    assert wrong == [], "\n".join(wrong)
