"""/api/: the public contract of docs/design.md (paths are stable; the seed paths
keep their seed systems' casing).

The seed routes also answer in any letter case and with a trailing slash, as
the seed systems' routers (ASP.NET Core, Express) match them; those aliases
are left out of the OpenAPI schema, which lists each route once."""

import re

from django.urls import URLPattern, path, re_path

from retry_admin.api.errors import api_not_found
from retry_admin.api.views import batches, dlq, docs, messages, seed

_ALIASES: set[str] = set()


def seed_alias(route: str) -> str:
    """A regex matching ``route`` in any letter case, with an optional trailing
    slash. Character classes such as ``[Bb]`` keep it reversible, which an
    inline ``(?i)`` flag would not (Django's URL resolver refuses those)."""
    letters = "".join(
        f"[{char}{char.swapcase()}]" if char.isalpha() else re.escape(char) for char in route
    )
    return rf"^{letters}/?\Z"


def seed_route(route: str, view, name: str) -> list[URLPattern]:
    """``route`` as written (reversed, in the schema), then its alias."""
    alias = seed_alias(route)
    _ALIASES.add(alias)
    return [path(route, view, name=name), re_path(alias, view)]


def schema_endpoints(endpoints: list[tuple]) -> list[tuple]:
    """drf-spectacular's preprocessing hook: the schema without the aliases."""
    return [
        endpoint
        for endpoint in endpoints
        if not any(endpoint[1].endswith(alias.lstrip("^")) for alias in _ALIASES)
    ]


urlpatterns = [
    # Seed-compatible
    *seed_route(
        "campaigns/retry-failed-messages",
        seed.RetryFailedMessagesView.as_view(),
        name="api-retry-failed-messages",
    ),
    *seed_route("campaigns/retry-status", seed.RetryStatusView.as_view(), "api-retry-status"),
    *seed_route("Diagnostics/QueueStatus", seed.QueueStatusView.as_view(), "api-queue-status"),
    *seed_route(
        "Statistics/GetMessageStatusStats",
        seed.MessageStatusStatsView.as_view(),
        "api-message-status-stats",
    ),
    *seed_route(
        "Batch/CreateBatchAndSend",
        batches.CreateBatchAndSendView.as_view(),
        "api-create-batch-and-send",
    ),
    # Batches
    path("batches/", batches.BatchListCreateView.as_view(), name="api-batches"),
    path("batches/<int:pk>/", batches.BatchDetailView.as_view(), name="api-batch"),
    # Messages
    path("messages/", messages.MessageListView.as_view(), name="api-messages"),
    path("messages/retry", messages.BulkRetryView.as_view(), name="api-messages-retry"),
    path("messages/<str:pk>/", messages.MessageDetailView.as_view(), name="api-message"),
    path("messages/<str:pk>/retry", messages.MessageRetryView.as_view(), name="api-message-retry"),
    # Dead-letter queue
    path("dlq/", dlq.DLQView.as_view(), name="api-dlq"),
    path("dlq/replay", dlq.DLQReplayView.as_view(), name="api-dlq-replay"),
    # OpenAPI schema and its browsable docs (Swagger UI served from our static files)
    path("schema/", docs.SchemaView.as_view(), name="api-schema"),
    path("docs/", docs.DocsView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^[\s\S]*$", api_not_found),  # any path, even one with a newline
]
