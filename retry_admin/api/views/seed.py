"""The endpoints existing clients already call, with the seed systems' paths
and response shapes (docs/design.md, Public contract)."""

from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
)
from rest_framework.response import Response

from retry_admin import selectors
from retry_admin.api.permissions import CanAct, CanView
from retry_admin.api.representations import ErrorSerializer, errors
from retry_admin.api.seed_representations import (
    MessageStatusStatsSerializer,
    QueueStatusSerializer,
    QueueUnavailableSerializer,
    RetryDryRunSerializer,
    RetryStatusSerializer,
    RetryTriggeredSerializer,
    seed_counts,
)
from retry_admin.api.serializers import RetryTriggerQuerySerializer, StatsQuerySerializer
from retry_admin.api.timestamps import SeedJSONRenderer
from retry_admin.api.views.base import ApiView, parsed
from retry_admin.models import RetryRun
from retry_admin.selectors import RETRY_FIGURES
from retry_admin.services.health import retry_service_status
from retry_admin.services.retry import (
    RetryCycleBusy,
    RetryNoWorker,
    retry_cycle_run,
    retry_cycle_trigger,
)

TAG = "Seed-compatible"
TRIGGERED = "Failed message retry processing triggered successfully"


def _who(user) -> str:
    return user.email or user.get_username()


class SeedView(ApiView):
    # The seed's timestamp format (timestamps.seed_timestamp) in every answer.
    renderer_classes = [SeedJSONRenderer]


class RetryFailedMessagesView(SeedView):
    permission_classes = [CanAct]

    @extend_schema(
        tags=[TAG],
        operation_id="retry_failed_messages",
        summary="Trigger a retry cycle now (in the background)",
        description=(
            "Queues one retry cycle for the worker (the same cycle the 6-hourly schedule "
            'runs) and answers 202 at once, `data.status` "queued": a live worker will '
            "run it within seconds. 409 when a cycle is already running (nothing is "
            "queued), 503 when no worker is alive to run it (nothing is queued). With "
            "`?dryRun=true` it instead reports, synchronously (200), what a cycle would "
            "do now and changes nothing. Super Admin and System Admin only."
        ),
        parameters=[RetryTriggerQuerySerializer],
        request=None,
        responses={
            200: RetryDryRunSerializer,
            202: RetryTriggeredSerializer,
            **errors(400, 401, 403),
            409: OpenApiResponse(ErrorSerializer, description="A retry cycle is already running."),
            503: OpenApiResponse(
                ErrorSerializer,
                description="No worker is alive to run it (or the database is unreachable).",
            ),
        },
        examples=[
            OpenApiExample(
                "Triggered",
                response_only=True,
                value={
                    "success": True,
                    "message": TRIGGERED,
                    "data": {
                        "triggeredAt": "2026-01-05T10:00:00.000Z",
                        "triggeredBy": "admin",
                        "status": "queued",
                    },
                },
            )
        ],
    )
    def post(self, request):
        query = parsed(RetryTriggerQuerySerializer, request.query_params)
        if query["dryRun"]:
            plan = retry_cycle_run(trigger=RetryRun.Trigger.API, user=request.user, dry_run=True)
            return Response(
                {
                    "success": True,
                    "message": "Dry run: nothing was changed",
                    "data": {
                        "dryRun": True,
                        "checkedAt": plan.started_at,
                        "triggeredBy": _who(request.user),
                        "selected": plan.selected,
                        "requeued": plan.requeued,
                        "skipped": plan.skipped,
                        "permanentlyFailed": plan.permanently_failed,
                        "left": plan.left,
                    },
                }
            )
        triggered_at = timezone.now()
        try:
            retry_cycle_trigger(trigger=RetryRun.Trigger.API, user=request.user)
        except RetryCycleBusy as exc:
            return Response({"success": False, "message": str(exc)}, status=409)
        except RetryNoWorker as exc:
            return Response(
                {"success": False, "message": str(exc)},
                status=503,
                headers={"Retry-After": "30"},
            )
        return Response(
            {
                "success": True,
                "message": TRIGGERED,
                "data": {
                    "triggeredAt": triggered_at,
                    "triggeredBy": _who(request.user),
                    "status": "queued",
                },
            },
            status=202,
        )


class RetryStatusView(SeedView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="retry_status",
        summary="The retry service's status (the design's messageRetryStatus)",
        description=(
            "Whether a retry cycle is running, when the last one ran and the next one "
            "will, the last cycle's result, and whether the cycle is overdue (the same "
            "rule that makes `/healthz` unhealthy). Any signed-in staff role."
        ),
        responses={200: RetryStatusSerializer, **errors(401, 403)},
    )
    def get(self, request):
        status = retry_service_status()
        last = status["last_result"]
        return Response(
            {
                "success": True,
                "messageRetryStatus": {
                    "isRunning": status["running"],
                    "currentRunStartedAt": status["current_run_started"],
                    "lastRun": status["last_run"],
                    "nextRun": status["next_run"],
                    "intervalHours": status["interval_hours"],
                    "graceMinutes": status["grace_minutes"],
                    "overdue": status["overdue"],
                    "lastResult": None
                    if last is None
                    else {
                        "run": last["run"],
                        "trigger": last["trigger"],
                        "finishedAt": last["finished_at"],
                        "durationSeconds": last["duration_seconds"],
                        "selected": last["selected"],
                        "requeued": last["requeued"],
                        "stillFailed": last["still_failed"],
                        "permanentlyFailed": last["permanently_failed"],
                        "skipped": last["skipped"],
                        "left": last["left"],
                        "error": last["error"],
                        "success": last["success"],
                    },
                },
                "timestamp": timezone.now(),
            }
        )


class QueueStatusView(SeedView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="queue_status",
        summary="Queue depth",
        description=(
            "`queueLength` counts messages waiting on the main queue; `inFlight`, `delayed` "
            "and `deadLettered` complete the picture. 503 with `success: false` when the "
            "queue cannot be reached."
        ),
        responses={
            200: QueueStatusSerializer,
            **errors(401, 403),
            503: OpenApiResponse(
                QueueUnavailableSerializer, description="The queue is unreachable."
            ),
        },
    )
    def get(self, request):
        status = selectors.queue_status()
        now = timezone.now()
        if not status["ok"]:
            return Response(
                {
                    "success": False,
                    "message": f"The queue is unreachable: {status['error']}",
                    "timestamp": now,
                },
                status=503,
            )
        return Response(
            {
                "success": True,
                "queueLength": status["visible"],
                "timestamp": now,
                "inFlight": status["in_flight"],
                "delayed": status["delayed"],
                "deadLettered": status["dead_lettered"],
                "backend": status["backend"],
            }
        )


class MessageStatusStatsView(SeedView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="message_status_stats",
        summary="Messages by status, retry success rate, attempt durations",
        description=(
            "`counts` has every status, now (camelCase keys; `?countKeys=snake`, deprecated, "
            "gives the old `permanently_failed` / `dead_lettered` spelling); `recovered` "
            "counts messages sent by a retry of any kind (retry cycle, one-click, bulk, DLQ "
            "replay); `definitions` says what each figure means; `attemptDurations` covers "
            "the most recent delivery attempts."
        ),
        parameters=[StatsQuerySerializer],
        responses={200: MessageStatusStatsSerializer, **errors(400, 401, 403)},
    )
    def get(self, request):
        query = parsed(StatsQuerySerializer, request.query_params)
        stats = selectors.message_status_stats()
        counts = stats["counts"] if query["countKeys"] == "snake" else seed_counts(stats["counts"])
        durations = stats["durations"]
        return Response(
            {
                "success": True,
                "timestamp": timezone.now(),
                "total": stats["total"],
                "counts": counts,
                "recovered": stats["recovered"],
                "permanentlyFailed": stats["permanently_failed"],
                "retrySuccessRate": stats["retry_success_rate"],
                "definitions": {
                    "retried": RETRY_FIGURES["retried"],
                    "recovered": RETRY_FIGURES["recovered"],
                    "retrySuccessRate": RETRY_FIGURES["retry_success_rate"],
                    "permanentlyFailed": RETRY_FIGURES["permanently_failed"],
                },
                "attemptDurations": {
                    "count": durations["count"],
                    "avgMs": durations["avg_ms"],
                    "p95Ms": durations["p95_ms"],
                },
            }
        )
