"""Messages: the filtered, cursor-paginated list, one message with its
attempts, and retrying one, a list or a filter."""

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from retry_admin import selectors
from retry_admin.api.permissions import CanAct, CanView
from retry_admin.api.representations import (
    MessageDetailSerializer,
    MessagePageSerializer,
    MessageSerializer,
    RetryPreviewSerializer,
    RetryResultSerializer,
    errors,
)
from retry_admin.api.serializers import (
    BulkRetrySerializer,
    MessageListQuerySerializer,
    RetryByFilterSerializer,
    RetryByIdsSerializer,
    RetryByTokenSerializer,
)
from retry_admin.api.views.base import ApiView, parsed
from retry_admin.services.bulk import bulk_retry_preview, bulk_retry_run
from retry_admin.services.manual_retry import message_retry

TAG = "Messages"
MESSAGE_ID = OpenApiParameter("id", OpenApiTypes.UUID, OpenApiParameter.PATH)


def _message_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(f"Unknown message {value!r}: message ids are UUIDs.") from None


def _page_url(request, cursor: str | None, param: str, other: str) -> str | None:
    if cursor is None:
        return None
    url = remove_query_param(request.build_absolute_uri(), other)
    return replace_query_param(url, param, cursor)


def _retry_body(result, *, requested: int, message: str) -> dict:
    return {
        "success": True,
        "message": message,
        "requested": requested,
        "requeued": result.requeued,
        "dlq_replayed": result.dlq_replayed,
        "already_queued": result.already_queued,
        "not_retryable": result.not_retryable,
    }


def _summary(result) -> str:
    done = result.requeued + result.dlq_replayed
    parts = [f"Retrying {done} message{'s' if done != 1 else ''}"]
    if result.already_queued:
        parts.append(f"{result.already_queued} already queued")
    if result.not_retryable:
        parts.append(f"{result.not_retryable} not retryable")
    return ", ".join(parts)


class MessageListView(ApiView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="messages_list",
        summary="Messages, newest first (the messages page's filters)",
        description=(
            "Keyset pagination: follow `next` (or pass `next_cursor` as `after`) for older "
            "messages, `previous` (`prev_cursor` as `before`) for newer ones. A `recipient` "
            "prefix that more than 2,000 messages start with answers 400 asking for more of "
            "the address."
        ),
        parameters=[MessageListQuerySerializer],
        responses={200: MessagePageSerializer, **errors(400, 401, 403)},
    )
    def get(self, request):
        query = parsed(MessageListQuerySerializer, request.query_params)
        page = selectors.message_page(
            filters=query["filters"],
            after=str(query["after"]) if query.get("after") else None,
            before=str(query["before"]) if query.get("before") else None,
            limit=query["limit"],
        )
        return Response(
            {
                "next": _page_url(request, page.next_cursor, "after", "before"),
                "previous": _page_url(request, page.prev_cursor, "before", "after"),
                "next_cursor": page.next_cursor,
                "prev_cursor": page.prev_cursor,
                "results": MessageSerializer(page.items, many=True).data,
            }
        )


class MessageDetailView(ApiView):
    permission_classes = [CanView]

    @extend_schema(
        tags=[TAG],
        operation_id="messages_retrieve",
        summary="One message with its delivery attempts",
        description="With its template context and every delivery attempt, oldest first.",
        parameters=[MESSAGE_ID],
        responses={200: MessageDetailSerializer, **errors(401, 403, 404)},
    )
    def get(self, request, pk: str):
        message = selectors.message_get(_message_id(pk), with_attempts=True)
        if message is None:
            raise NotFound(f"Unknown message {pk}.")
        return Response(MessageDetailSerializer(message).data)


class MessageRetryView(ApiView):
    permission_classes = [CanAct]

    @extend_schema(
        tags=[TAG],
        operation_id="messages_retry",
        summary="Retry one message now",
        description=(
            "Failed and permanently failed messages are queued again; a dead-lettered one "
            "is replayed from the DLQ. Retrying a message that is already queued again "
            "changes nothing (a double click enqueues once). 409 for a sent message."
        ),
        parameters=[MESSAGE_ID],
        request=None,
        responses={200: RetryResultSerializer, **errors(401, 403, 404, 409)},
    )
    def post(self, request, pk: str):
        message_id = _message_id(pk)
        if selectors.unknown_message_ids([message_id]):
            raise NotFound(f"Unknown message {pk}.")
        result = message_retry(message_ids=[message_id], user=request.user)
        if result.not_retryable:
            return Response(
                {
                    "success": False,
                    "message": (
                        f"Message {pk} cannot be retried: only failed, permanently failed "
                        "and dead-lettered messages can."
                    ),
                },
                status=409,
            )
        return Response(_retry_body(result, requested=1, message=_summary(result)))


class BulkRetryView(ApiView):
    permission_classes = [CanAct]

    @extend_schema(
        tags=[TAG],
        operation_id="messages_retry_many",
        summary="Retry a list of messages, or every message matching a filter",
        description=(
            'Send exactly one of `{"ids": [...]}`, `{"filter": {...}}` or '
            '`{"token": "..."}`. A filter retries the failed, permanently failed and '
            "dead-lettered messages that match it as of the request: messages that fail "
            'later are not swept in. `{"filter": {...}, "preview": true}` only counts them '
            "and returns a `token`; posting that token within an hour retries exactly "
            "that selection. An unknown id refuses the whole request (400), changing "
            "nothing."
        ),
        request=PolymorphicProxySerializer(
            component_name="BulkRetryRequest",
            serializers=[RetryByIdsSerializer, RetryByFilterSerializer, RetryByTokenSerializer],
            resource_type_field_name=None,
        ),
        responses={
            200: PolymorphicProxySerializer(
                component_name="BulkRetryResponse",
                serializers=[RetryResultSerializer, RetryPreviewSerializer],
                resource_type_field_name=None,
            ),
            **errors(400, 401, 403),
        },
        examples=[
            OpenApiExample("By ids", request_only=True, value={"ids": [str(uuid.UUID(int=1))]}),
            OpenApiExample(
                "By filter", request_only=True, value={"filter": {"status": "failed", "batch": 1}}
            ),
        ],
    )
    def post(self, request):
        data = parsed(BulkRetrySerializer, request.data)
        if "ids" in data:
            unknown = selectors.unknown_message_ids(data["ids"])
            if unknown:
                shown = ", ".join(str(pk) for pk in unknown[:5])
                raise ValidationError({"ids": [f"Unknown message ids: {shown}"]})
            result = message_retry(message_ids=data["ids"], user=request.user)
            return Response(
                _retry_body(result, requested=len(data["ids"]), message=_summary(result))
            )
        if "token" in data:
            result = bulk_retry_run(token=data["token"], user=request.user)
            requested = (
                result.requeued + result.dlq_replayed + result.already_queued + result.not_retryable
            )
            return Response(_retry_body(result, requested=requested, message=_summary(result)))
        # A filter: preview, then run exactly what was previewed (frozen at ``as_of``).
        preview = bulk_retry_preview(filters=data["filter"])
        if data["preview"]:
            return Response(
                {
                    "success": True,
                    "message": f"{preview.count} messages would be retried",
                    "count": preview.count,
                    "as_of": preview.as_of,
                    "token": preview.token,
                    "sample": MessageSerializer(preview.sample, many=True).data,
                }
            )
        result = bulk_retry_run(token=preview.token, user=request.user)
        return Response(_retry_body(result, requested=preview.count, message=_summary(result)))
