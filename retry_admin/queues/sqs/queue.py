"""The SQS transport (see the package docstring)."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime

from django.conf import settings

from retry_admin.queues.base import (
    DeadLetter,
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
)
from retry_admin.queues.remote import SCAN_VISIBILITY_SECONDS, RemoteQueue
from retry_admin.queues.sqs.calls import SQSCalls
from retry_admin.queues.sqs.wire import (
    ATTR_DEAD_AT,
    ATTR_REASON,
    ATTR_RECEIVES,
    DLQ_RETENTION_SECONDS,
    MAX_BATCH,
    MAX_BODY_BYTES,
    MAX_DELAY_SECONDS,
    MAX_REASON_CHARS,
    SEND_CONCURRENCY,
    body_problem,
    last_segment,
    pack,
    receive_count,
    region_from_url,
    text_attribute,
    unpack,
)


class SQSQueue(SQSCalls, RemoteQueue):
    move_chunk = MAX_BATCH
    name = "sqs"
    # One send() runs its SendMessageBatch calls (of 10) concurrently.
    max_send_batch = MAX_BATCH * SEND_CONCURRENCY * 4
    max_receive = MAX_BATCH
    # SQS's 256 KiB, less room for the attributes dead_letter adds, so a
    # message that got on the queue can always be copied to the DLQ.
    max_body_bytes = MAX_BODY_BYTES
    transactional = False
    redrives = True

    def __init__(self, *, queue_name: str) -> None:
        super().__init__()
        self.queue_name = queue_name
        self.endpoint_url = settings.AWS_ENDPOINT_URL or None
        self._configured_url = settings.SQS_QUEUE_URL
        self._configured_dlq_url = settings.SQS_DLQ_URL
        self.main_name = last_segment(self._configured_url) or queue_name
        self.dlq_name = last_segment(self._configured_dlq_url) or f"{self.main_name}-dlq"
        self.region = (
            settings.AWS_REGION
            or region_from_url(self._configured_url)
            or ("us-east-1" if self.endpoint_url else None)
        )

    def describe(self) -> str:
        where = self._configured_url or f"queue {self.main_name!r}"
        via = f" via {self.endpoint_url}" if self.endpoint_url else ""
        return f"SQS {where} (DLQ {self._configured_dlq_url or self.dlq_name}){via}"

    # Main queue

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """SQS has no priorities: ``priority`` is ignored."""
        results: dict[int, SendResult] = {}
        items = []
        for index, body in enumerate(bodies):
            problem = body_problem(body)
            if problem:
                results[index] = SendResult(False, problem)
            else:
                items.append((index, body, {}))
        if items:
            delay = min(max(delay_seconds, 0), MAX_DELAY_SECONDS)
            results.update(self._send(self._main(), items, delay))
        return [results[index] for index in range(len(bodies))]

    def _receive_page(
        self, count: int, *, visibility_timeout: int, first: bool
    ) -> list[ReceivedMessage]:
        """Only the first call long-polls (``SQS_WAIT_SECONDS``), so a drained
        queue ends a receive."""
        wait = settings.SQS_WAIT_SECONDS if first else 0
        messages = self._receive_from(self._main(), count, visibility_timeout, wait)
        return [ReceivedMessage(pack(m), m["Body"], receive_count(m)) for m in messages]

    def ack(self, handles: Sequence[str]) -> None:
        if handles:
            self._delete(self._main(), [unpack(h)[0] for h in handles])

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        if handles:
            self._change_visibility(self._main(), [unpack(h)[0] for h in handles], delay_seconds)

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        if not handles:
            return {}
        refused = self._change_visibility(
            self._main(), [unpack(h)[0] for h in handles], visibility_timeout
        )
        return {h: h for h in handles if unpack(h)[0] not in refused}

    def _handle_id(self, handle: str) -> str:
        return unpack(handle)[1]

    def _copy_to_dlq(self, handles: Sequence[str], *, reason: str) -> list[SendResult]:
        """With the reason, receive count and time as message attributes."""
        now = datetime.now(UTC).isoformat()
        items = [
            (
                index,
                body,
                {
                    ATTR_REASON: text_attribute(reason[:MAX_REASON_CHARS] or "-"),
                    ATTR_RECEIVES: {"DataType": "Number", "StringValue": str(count)},
                    ATTR_DEAD_AT: text_attribute(now),
                },
            )
            for index, (_, _, count, body) in enumerate(map(unpack, handles))
        ]
        results = self._send(self._dlq(), items)
        return [results[i] for i in range(len(handles))]

    def depth(self) -> QueueDepth:
        attributes = self._attributes(self._main())
        return QueueDepth(
            visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    # Dead-letter queue

    def dlq_depth(self) -> int:
        """Everything in the DLQ, including what a scan is looking at right now."""
        attributes = self._attributes(self._dlq())
        return sum(int(value) for value in attributes.values())

    # Primitives of the shared DLQ algorithm (queues/scanning.py)

    def _dlq_receive(self, *, first: bool) -> list[dict]:
        wait = min(settings.SQS_WAIT_SECONDS, 1) if first else 0
        return self._receive_from(self._dlq(), MAX_BATCH, SCAN_VISIBILITY_SECONDS, wait)

    def _dlq_id(self, raw: dict) -> str:
        return raw["MessageId"]

    def _dlq_release(self, raws: Sequence[dict]) -> None:
        if raws:
            self._change_visibility(self._dlq(), [m["ReceiptHandle"] for m in raws], 0)

    def _dlq_delete(self, raws: Sequence[dict]) -> int:
        return self._delete(self._dlq(), [m["ReceiptHandle"] for m in raws]) if raws else 0

    def _send_to_main(self, raws: Sequence[dict]) -> list[SendResult]:
        results = self._send(self._main(), [(i, m["Body"], {}) for i, m in enumerate(raws)])
        return [results[i] for i in range(len(raws))]

    def _dlq_entry(self, message: dict) -> DeadLetter:
        attributes = message.get("MessageAttributes", {})
        try:
            reason = attributes[ATTR_REASON]["StringValue"]
            receives = int(attributes[ATTR_RECEIVES]["StringValue"])
            dead_at = datetime.fromisoformat(attributes[ATTR_DEAD_AT]["StringValue"])
        except (KeyError, ValueError):
            # Not dead-lettered by us: moved by the redrive policy, or sent to the
            # DLQ directly by someone else. SQS's own count keeps rising with
            # every scan of the DLQ, so report what the policy allows instead.
            receives = settings.QUEUE_MAX_RECEIVES + 1
            reason = "Moved by the SQS redrive policy (or sent to the DLQ directly)"
            sent_ms = int(message.get("Attributes", {}).get("SentTimestamp", 0))
            dead_at = datetime.fromtimestamp(sent_ms / 1000, UTC) if sent_ms else None
        return DeadLetter(message["MessageId"], message["Body"], receives, dead_at, reason)

    def ensure(self) -> None:
        """Create the DLQ and the main queue if missing, and set the main
        queue's redrive policy (``maxReceiveCount = QUEUE_MAX_RECEIVES + 1``:
        the sender dead-letters first; this is the safety net)."""
        if self.main_name.endswith(".fifo"):
            raise QueueError("FIFO queues are not supported: use a standard SQS queue")
        dlq = self._create(
            self.dlq_name,
            self._configured_dlq_url,
            {"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
        )
        arn = self._call("GetQueueAttributes", dlq, QueueUrl=dlq, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        main = self._create(self.main_name, self._configured_url, {})
        policy = {"deadLetterTargetArn": arn, "maxReceiveCount": settings.QUEUE_MAX_RECEIVES + 1}
        self._call(
            "SetQueueAttributes",
            main,
            QueueUrl=main,
            Attributes={"RedrivePolicy": json.dumps(policy)},
        )

    def _create(self, name: str, configured: str, attributes: dict[str, str]) -> str:
        try:
            return self._url(name, "") if not configured else self._exists(configured)
        except QueueError as exc:
            if "does not exist" not in str(exc):
                raise
        url = self._call("CreateQueue", f"{name!r}", QueueName=name, Attributes=attributes)[
            "QueueUrl"
        ]
        return configured or url

    def _exists(self, url: str) -> str:
        self._call("GetQueueAttributes", url, QueueUrl=url, AttributeNames=["QueueArn"])
        return url
