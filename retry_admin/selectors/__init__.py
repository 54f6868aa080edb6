"""Reads for pages, API and commands, one module per area; every read an
entry point makes is here, so that the console and the API cannot diverge.
Everything is importable from ``retry_admin.selectors``."""

from retry_admin.selectors.batches import (
    batch_error_groups,
    batch_get,
    batch_page,
    batch_progress,
    batches,
    template_find,
    template_get,
    templates,
)
from retry_admin.selectors.counts import counts_by_status, fold_by_status, zero_counts
from retry_admin.selectors.dlq import (
    DLQEntry,
    dlq_depth,
    dlq_entries,
    first_errors,
    unknown_dlq_ids,
)
from retry_admin.selectors.figures import (
    DURATION_SAMPLE,
    RETRY_FIGURES,
    attempt_durations,
    hourly_series,
    message_status_stats,
    overview,
    queue_status,
    retry_cycle_status,
    status_counts,
)
from retry_admin.selectors.history import (
    DLQ_SCAN_LIMIT,
    MessageHistory,
    message_dlq_entry,
    message_history,
    message_retries_by_source,
)
from retry_admin.selectors.messages import (
    RECIPIENT_MATCH_LIMIT,
    MessagePage,
    failure_groups,
    manually_retried_counts,
    message_get,
    message_page,
    messages_by_ids,
    recipient_matches,
    unknown_message_ids,
)
from retry_admin.selectors.operations import (
    audit_page,
    recent_retry_runs,
    schedules_with_last_run,
)
from retry_admin.selectors.pages import Page, keyset_page

__all__ = [
    "DLQ_SCAN_LIMIT",
    "DURATION_SAMPLE",
    "RECIPIENT_MATCH_LIMIT",
    "RETRY_FIGURES",
    "DLQEntry",
    "MessageHistory",
    "MessagePage",
    "Page",
    "attempt_durations",
    "audit_page",
    "batch_error_groups",
    "batch_get",
    "batch_page",
    "batch_progress",
    "batches",
    "counts_by_status",
    "dlq_depth",
    "dlq_entries",
    "failure_groups",
    "first_errors",
    "fold_by_status",
    "hourly_series",
    "keyset_page",
    "manually_retried_counts",
    "message_dlq_entry",
    "message_get",
    "message_history",
    "message_page",
    "message_retries_by_source",
    "message_status_stats",
    "messages_by_ids",
    "overview",
    "queue_status",
    "recent_retry_runs",
    "recipient_matches",
    "retry_cycle_status",
    "schedules_with_last_run",
    "status_counts",
    "template_find",
    "template_get",
    "templates",
    "unknown_dlq_ids",
    "unknown_message_ids",
    "zero_counts",
]
