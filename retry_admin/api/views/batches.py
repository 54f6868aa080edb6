"""Batches: create and send (the Azure seed's ``CreateBatchAndSend``), list, detail."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from retry_admin import selectors
from retry_admin.api.parsers import batch_body_limit
from retry_admin.api.permissions import CanAct, CanView
from retry_admin.api.representations import BatchCreatedSerializer, BatchSerializer, errors
from retry_admin.api.serializers import (
    IDEMPOTENCY_HEADER,
    BatchCreateSerializer,
    BatchListQuerySerializer,
    IdempotencyKeySerializer,
)
from retry_admin.api.views.base import ApiView, parsed
from retry_admin.services.batches import batch_create

TAG = "Batches"
SEED_TAG = "Seed-compatible"
REPLAYED_HEADER = "Idempotent-Replayed"


class BatchPagination(CursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 200

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["Malformed page cursor."]}) from None


def _render(batches, *, seed_timestamps: bool = False, **extra) -> list[dict]:
    """Batches with their progress: one grouped query for all of them."""
    progress = selectors.batch_progress([batch.pk for batch in batches])
    context = {"progress": progress, "seed_timestamps": seed_timestamps}
    data = BatchSerializer(batches, many=True, context=context).data
    for item in data:
        item.update(extra)
    return data


class BatchListCreateView(ApiView, generics.ListAPIView):
    permission_classes = [CanAct]
    pagination_class = BatchPagination
    serializer_class = BatchSerializer
    queryset = selectors.batches()
    seed_timestamps = False  # True on the seed route: the seed's timestamp format

    def max_body_bytes(self) -> int:
        return batch_body_limit()

    @extend_schema(
        tags=[TAG],
        operation_id="batches_list",
        summary="Batches, newest first, with per-status progress",
        description="Cursor pagination: follow `next` / `previous`; `limit` is 1-200 (50).",
        parameters=[BatchListQuerySerializer],
        responses={200: BatchSerializer(many=True), **errors(400, 401, 403)},
    )
    def get(self, request, *args, **kwargs):
        parsed(BatchListQuerySerializer, request.query_params)  # the paginator reads them
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(_render(page))

    @extend_schema(
        tags=[TAG],
        operation_id="batches_create",
        summary="Create a batch and send it",
        description=(
            "Writes the batch and one pending message per unique recipient in one "
            "transaction, then queues them: all or nothing. A refused batch answers 400 "
            "with every bad line in `errors.recipients` and writes nothing.\n\n"
            f"With an `{IDEMPOTENCY_HEADER}` header, repeating the request returns the "
            f"batch the first one created (200, header `{REPLAYED_HEADER}: true`) "
            "instead of creating another; the same key with a different request answers "
            "422 and creates nothing. Super Admin and System Admin only."
        ),
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                {"type": "string", "maxLength": 200},
                OpenApiParameter.HEADER,
                description="Any unique string (at most 200 characters), e.g. a UUID.",
            ),
            OpenApiParameter(
                REPLAYED_HEADER,
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                enum=["true"],
                response=[200],
                description="Set when the answer is an earlier request's batch.",
            ),
        ],
        request=BatchCreateSerializer,
        responses={
            201: OpenApiResponse(BatchCreatedSerializer, description="Created and queued."),
            200: OpenApiResponse(
                BatchCreatedSerializer,
                description="The batch an earlier request with this Idempotency-Key created.",
            ),
            **errors(400, 401, 403, 413, 422),
        },
        examples=[
            OpenApiExample(
                "Two recipients",
                request_only=True,
                value={
                    "template": "Greeting",
                    "name": "Welcome",
                    "channel": "log",
                    "recipients": [
                        {"recipient": "+447700900001", "name": "Ada"},
                        {"recipient": "+447700900002", "name": "Grace"},
                    ],
                },
            )
        ],
    )
    def post(self, request, *args, **kwargs):
        header = parsed(
            IdempotencyKeySerializer,
            {IDEMPOTENCY_HEADER: request.headers.get(IDEMPOTENCY_HEADER, "")},
        )
        data = parsed(BatchCreateSerializer, request.data)
        result = batch_create(
            name=data["name"],
            template=data["template"],
            recipients=data["recipients"],
            channel=data["channel"],
            priority=data["priority"],
            user=request.user,
            idempotency_key=header[IDEMPOTENCY_HEADER] or None,
        )
        [body] = _render(
            [result.batch],
            seed_timestamps=self.seed_timestamps,
            duplicates_removed=result.duplicates_removed,
        )
        if not result.created:
            return Response(body, status=200, headers={REPLAYED_HEADER: "true"})
        return Response(body, status=201)


@extend_schema_view(
    post=extend_schema(
        tags=[SEED_TAG],
        operation_id="create_batch_and_send",
        summary="Create a batch and send it (the Azure seed's route for POST /api/batches/)",
    )
)
class CreateBatchAndSendView(BatchListCreateView):
    http_method_names = ["post", "options"]
    seed_timestamps = True


class BatchDetailView(ApiView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="batches_retrieve",
        summary="One batch with per-status progress",
        description="`progress` counts the batch's messages by status.",
        responses={200: BatchSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, pk: int):
        batch = selectors.batch_get(pk)
        if batch is None:
            raise NotFound(f"Unknown batch {pk}.")
        [body] = _render([batch])
        return Response(body)
