"""The domain: templates, batches, message logs and what happens to them,
one module per area; everything is importable from ``retry_admin.models``."""

from retry_admin.models.alerts import AlertEvent, AlertRule
from retry_admin.models.bulk import insert_rows
from retry_admin.models.campaigns import Batch, Template
from retry_admin.models.ids import new_message_id, new_message_ids
from retry_admin.models.messages import (
    SIGNED,
    DeliveryAttempt,
    MessageEvent,
    MessageLog,
    MessageLogQuerySet,
    Source,
    Status,
)
from retry_admin.models.operations import (
    AuditEvent,
    Heartbeat,
    HourlyCount,
    MirrorWatermark,
    ProcessLock,
    RetryRun,
)
from retry_admin.models.queue_table import QueueMessage
from retry_admin.models.signatures import error_signature
from retry_admin.models.templating import (
    PLACEHOLDER_RE,
    render_template,
    template_placeholders,
    validate_template_body,
)

__all__ = [
    "PLACEHOLDER_RE",
    "SIGNED",
    "AlertEvent",
    "AlertRule",
    "AuditEvent",
    "Batch",
    "DeliveryAttempt",
    "Heartbeat",
    "HourlyCount",
    "MessageEvent",
    "MessageLog",
    "MessageLogQuerySet",
    "MirrorWatermark",
    "ProcessLock",
    "QueueMessage",
    "RetryRun",
    "Source",
    "Status",
    "Template",
    "error_signature",
    "insert_rows",
    "new_message_id",
    "new_message_ids",
    "render_template",
    "template_placeholders",
    "validate_template_body",
]
