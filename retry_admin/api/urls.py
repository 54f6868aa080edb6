"""/api/: the public contract of docs/design.md (paths are stable; the seed paths
keep their seed systems' casing)."""

from django.urls import path, re_path

from retry_admin.api.errors import api_not_found
from retry_admin.api.views import batches, dlq, docs, messages, seed

urlpatterns = [
    # Seed-compatible
    path(
        "campaigns/retry-failed-messages",
        seed.RetryFailedMessagesView.as_view(),
        name="api-retry-failed-messages",
    ),
    path("Diagnostics/QueueStatus", seed.QueueStatusView.as_view(), name="api-queue-status"),
    path(
        "Statistics/GetMessageStatusStats",
        seed.MessageStatusStatsView.as_view(),
        name="api-message-status-stats",
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
