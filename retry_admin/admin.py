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


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ["number", "source", "outcome", "error", "duration_ms", "created_at"]


@admin.register(MessageLog)
class MessageLogAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request):
        return False  # messages are created through batches, never by hand


@admin.register(RetryRun)
class RetryRunAdmin(admin.ModelAdmin):
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
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["created_at", "actor_name", "action", "target", "count"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target"]
    readonly_fields = [f.name for f in AuditEvent._meta.fields]


@admin.register(QueueMessage)
class QueueMessageAdmin(admin.ModelAdmin):
    list_display = ["id", "queue", "dead", "receive_count", "visible_at", "created_at"]
    list_filter = ["queue", "dead"]
    readonly_fields = [f.name for f in QueueMessage._meta.fields]
