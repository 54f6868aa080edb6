"""The dead-letter queue: list, replay, purge."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from retry_admin import selectors
from retry_admin.api.permissions import CanAct, CanPurge
from retry_admin.api.representations import (
    DLQEntrySerializer,
    DLQListSerializer,
    DLQPurgeResultSerializer,
    DLQReplayResultSerializer,
    errors,
)
from retry_admin.api.serializers import (
    DLQListQuerySerializer,
    DLQPurgeSerializer,
    DLQReplaySerializer,
    ReplayAllSerializer,
    ReplayIdsSerializer,
)
from retry_admin.api.views.base import ApiView, parsed
from retry_admin.services.dlq import dlq_purge, dlq_replay

TAG = "Dead-letter queue"


def _refuse_unknown(ids: list[str] | None) -> None:
    """An unknown entry refuses the whole request before anything changes."""
    unknown = selectors.unknown_dlq_ids(ids) if ids else []
    if unknown:
        raise ValidationError({"ids": [f"Not in the dead-letter queue: {', '.join(unknown[:5])}"]})


def _entries(n: int) -> str:
    return f"{n} entr{'y' if n == 1 else 'ies'}"


def _purge_input(request) -> dict:
    """``confirm`` and ``ids`` from the JSON body, else from the query string.
    A destructive call takes nothing else: an unknown parameter is a typo."""
    unknown = sorted(set(request.query_params) - {"confirm", "ids"})
    if unknown:
        raise ValidationError({name: ["Unknown parameter."] for name in unknown[:5]})
    body = request.data if isinstance(request.data, dict) else {}
    data = {}
    confirm = body.get("confirm", request.query_params.get("confirm"))
    if confirm is not None:
        data["confirm"] = confirm
    ids = body.get("ids", request.query_params.getlist("ids") or None)
    if ids is not None:
        data["ids"] = ids
    return data


class DLQView(ApiView):
    permission_classes = [CanPurge]

    @extend_schema(
        tags=[TAG],
        operation_id="dlq_list",
        summary="Entries in the dead-letter queue, oldest first",
        description=(
            "Each entry with its message when the body is a Retry Admin envelope. "
            "`poison_loop` marks a message that came back after a replay."
        ),
        parameters=[DLQListQuerySerializer],
        responses={200: DLQListSerializer, **errors(400, 401, 403, 503)},
    )
    def get(self, request):
        query = parsed(DLQListQuerySerializer, request.query_params)
        entries = selectors.dlq_entries(limit=query["limit"])
        return Response(
            {"count": len(entries), "results": DLQEntrySerializer(entries, many=True).data}
        )

    @extend_schema(
        tags=[TAG],
        operation_id="dlq_purge",
        summary="Purge the dead-letter queue (Super Admin only)",
        description=(
            "Deletes every DLQ entry, or only `ids`; their messages become permanently "
            "failed with who purged them as the error. Needs `confirm=purge` (in the query "
            'string, or `{"confirm": "purge", "ids": [...]}` as a JSON body), so that a '
            "stray DELETE cannot empty the DLQ. An unknown id refuses the whole request."
        ),
        parameters=[
            OpenApiParameter(
                "confirm",
                OpenApiTypes.STR,
                enum=["purge"],
                required=True,
                description='Must be `purge` (or sent as `{"confirm": "purge"}` in a JSON body).',
            ),
            OpenApiParameter(
                "ids",
                OpenApiTypes.STR,
                many=True,
                description="Only these entries (repeat the parameter); default: all.",
            ),
        ],
        request=None,
        responses={200: DLQPurgeResultSerializer, **errors(400, 401, 403, 503)},
    )
    def delete(self, request):
        data = parsed(DLQPurgeSerializer, _purge_input(request))
        _refuse_unknown(data.get("ids"))
        purged = dlq_purge(ids=data.get("ids"), user=request.user)
        return Response(
            {
                "success": True,
                "message": f"Purged {_entries(purged)} from the dead-letter queue",
                "purged": purged,
            }
        )


class DLQReplayView(ApiView):
    permission_classes = [CanAct]

    @extend_schema(
        tags=[TAG],
        operation_id="dlq_replay",
        summary="Replay DLQ entries onto the main queue",
        description=(
            "Each entry goes back on the main queue and only then leaves the DLQ. An "
            "entry whose body is not a Retry Admin envelope (or points at no message) "
            "stays, listed in `unreadable`, unless `as_is` is true: then it goes back on "
            "the main queue unchanged, as the SQS redrive does. `results` says what "
            "happened to each entry; `success` is false when any entry was left in the "
            "DLQ. An unknown id refuses the whole request."
        ),
        request=PolymorphicProxySerializer(
            component_name="DLQReplayRequest",
            serializers=[ReplayIdsSerializer, ReplayAllSerializer],
            resource_type_field_name=None,
        ),
        responses={200: DLQReplayResultSerializer, **errors(400, 401, 403, 503)},
        examples=[
            OpenApiExample("Some", request_only=True, value={"ids": ["12", "13"]}),
            OpenApiExample("All", request_only=True, value={"all": True}),
            OpenApiExample(
                "All, foreign bodies too", request_only=True, value={"all": True, "as_is": True}
            ),
        ],
    )
    def post(self, request):
        data = parsed(DLQReplaySerializer, request.data)
        _refuse_unknown(data.get("ids"))
        result = dlq_replay(ids=data.get("ids"), user=request.user, as_is=data["as_is"])
        message = f"Replayed {_entries(result.replayed)}"
        if result.moved_as_is:
            message += f", moved {_entries(len(result.moved_as_is))} back as they were"
        if result.left:
            message += f"; {_entries(len(result.left))} left in the dead-letter queue"
        return Response(
            {
                "success": result.success,
                "message": message,
                "replayed": result.replayed,
                "moved_as_is": len(result.moved_as_is),
                "left": len(result.left),
                "unreadable": result.unreadable,
                "failed": result.failed,
                "results": [
                    {"id": i, "outcome": outcome.value, "reason": reason}
                    for i, outcome, reason in result.outcomes()
                ],
            }
        )
