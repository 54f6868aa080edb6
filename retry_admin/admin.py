"""The Django admin: for looking. Records that are evidence (the audit log,
retry runs, message logs and their attempts) and the embedded queue's rows
cannot be added, edited or deleted here, not even by a superuser: changes go
through the console, the API and the services, which keep the invariants."""

from django.contrib import admin

from retry_admin.models import (
    AuditEvent,
    Batch,
    DeliveryAttempt,
    MessageLog,
    QueueMessage,
    RetryRun,
    Template,
)


@admin.register(Template)
class TemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "updated_at"]
    search_fields = ["name", "body"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "name",
        "template",
        "channel",
        "total",
        "priority",
        "created_by",
        "created_at",
    ]
    list_filter = ["channel"]
    search_fields = ["name"]
    raw_id_fields = ["template", "created_by"]
    date_hierarchy = "created_at"


class ReadOnly:
    """Viewable, never added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "source", "outcome", "error", "duration_ms", "created_at"]


@admin.register(MessageLog)
class MessageLogAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "recipient",
        "batch",
        "status",
        "retry_count",
        "attempt_count",
        "updated_at",
    ]
    list_filter = ["status", "enqueue_source"]
    search_fields = ["recipient", "=id", "error_signature"]
    raw_id_fields = ["batch"]
    show_full_result_count = False  # no COUNT(*) over a million rows per page
    readonly_fields = [f.name for f in MessageLog._meta.fields]
    inlines = [DeliveryAttemptInline]


@admin.register(RetryRun)
class RetryRunAdmin(ReadOnly, admin.ModelAdmin):
    list_display = [
        "id",
        "trigger",
        "actor",
        "started_at",
        "finished_at",
        "selected",
        "requeued",
        "still_failed",
        "permanently_failed",
        "skipped",
        "error",
    ]
    list_filter = ["trigger"]
    readonly_fields = [f.name for f in RetryRun._meta.fields]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "target", "count"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(QueueMessage)
class QueueMessageAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ["id", "queue", "dead", "receive_count", "visible_at", "created_at"]
    list_filter = ["queue", "dead"]
    readonly_fields = [f.name for f in QueueMessage._meta.fields]
