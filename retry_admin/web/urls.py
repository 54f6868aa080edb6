"""The console's pages (docs/design.md) and their actions."""

from django.contrib.auth import views as auth_views
from django.urls import path

from retry_admin.web import batches, dlq, failures, health, login, messages, metrics, overview
from retry_admin.web.alerts import alert_rule_edit, alerts_page

urlpatterns = [
    path(
        "accounts/login/",
        login.SignInView.as_view(),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", overview.overview, name="overview"),
    path("metrics", metrics.metrics, name="metrics"),  # Prometheus (docs/metrics.md)
    path("retry-cycle/", overview.retry_cycle_trigger, name="retry_cycle_trigger"),
    path("messages/", messages.message_list, name="messages"),
    path("messages/retry/", messages.message_retry_selected, name="message_retry_selected"),
    path("messages/<uuid:pk>/", messages.message_detail, name="message_detail"),
    path("messages/<uuid:pk>/retry/", messages.message_retry_one, name="message_retry"),
    path("failures/", failures.failures, name="failures"),
    path("failures/bulk/preview/", failures.bulk_preview, name="bulk_preview"),
    path("failures/bulk/run/", failures.bulk_run, name="bulk_run"),
    path("failures/bulk/progress/", failures.bulk_progress, name="bulk_progress"),
    path("dlq/", dlq.dlq, name="dlq"),
    path("dlq/preview/", dlq.dlq_preview, name="dlq_preview"),
    path("dlq/replay/", dlq.dlq_replay_view, name="dlq_replay"),
    path("dlq/purge/", dlq.dlq_purge_view, name="dlq_purge"),
    path("batches/", batches.batch_list, name="batches"),
    path("batches/new/", batches.batch_new, name="batch_new"),
    path("batches/new/preview/", batches.batch_preview, name="batch_preview"),
    path("batches/<int:pk>/", batches.batch_detail, name="batch_detail"),
    path("templates/new/", batches.template_new, name="template_new"),
    path("health/", health.health_page, name="health"),
    path("alerts/", alerts_page, name="alerts"),
    path("alerts/<str:kind>/", alert_rule_edit, name="alert_rule_edit"),
]
