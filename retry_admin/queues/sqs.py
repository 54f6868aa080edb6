"""Amazon SQS: the only module that imports boto3, and only when first used,
so the embedded default needs no AWS libraries or credentials.

Where: ``SQS_QUEUE_URL`` (or the queue named ``QUEUE_NAME`` in the account and
region of the credentials) and ``SQS_DLQ_URL`` (or ``<main queue name>-dlq``);
``AWS_ENDPOINT_URL`` for a local endpoint; credentials from the standard AWS
chain. Standard queues only: FIFO queues need group ids we do not assign.

Limits SQS sets, checked here before anything is sent: 10 entries and 256 KiB
per SendMessageBatch, XML-safe characters only, 10 messages per receive, a
delay of at most 900 s and a visibility timeout of at most 12 h.

The dead-letter queue: the sender itself dead-letters a message received more
than ``QUEUE_MAX_RECEIVES`` times (``dead_letter`` sends it to the DLQ with the
reason as message attributes, then deletes it from the main queue). The redrive
policy that ``ensure`` sets, ``maxReceiveCount = QUEUE_MAX_RECEIVES + 1``, is
the safety net for a message no sender got to dead-letter; its log still says
pending, and ``services.dlq.dlq_reconcile`` catches up with it (``redrives``).

SQS cannot read a message without receiving it, so the DLQ operations scan:
receive with a short visibility timeout, keep what was asked for, and at once
make the rest visible again. ``DeadLetter.id`` is the SQS MessageId, which
survives any number of scans. A move sends to the main queue first and deletes
from the DLQ only what was sent, paced by ``DLQ_REPLAY_RATE``.

A receipt handle here carries the SQS receipt handle, the message id, the
receive count and the body, so ``dead_letter`` can copy a message to the DLQ
without receiving it again.
"""

import json
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlparse

from django.conf import settings

from retry_admin.queues.base import (
    XML_UNSAFE,
    DeadLetter,
    QueueDepth,
    QueueError,
    ReceivedMessage,
    SendResult,
)
from retry_admin.queues.scanning import SCAN_VISIBILITY_SECONDS, ReceivingDeadLetters

logger = logging.getLogger(__name__)

MAX_BATCH = 10
MAX_BATCH_BYTES = 256 * 1024
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 12 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps anything
# How long a DLQ scan hides what it has looked at; long enough to finish the
# scan, short enough that a crashed scan is invisible only briefly.
SEND_ATTEMPTS = 3

ATTR_REASON = "RetryAdminReason"
ATTR_RECEIVES = "RetryAdminReceiveCount"
ATTR_DEAD_AT = "RetryAdminDeadAt"
MAX_REASON_CHARS = 1000

# The characters SQS accepts in a body (anything else fails the whole entry).
_REGION_IN_URL = re.compile(r"(?:^|\.)sqs\.([a-z0-9-]+)\.amazonaws\.com|^([a-z0-9-]+)\.queue\.")

_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}
_THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "RequestThrottled",
    "AWS.SimpleQueueService.RequestThrottled",
    "OverLimit",
    "KmsThrottled",
}
_BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "AccessDenied",
    "AccessDeniedException",
    "ExpiredToken",
    "InvalidSecurity",
    "MissingAuthenticationToken",
    "AuthFailure",
}


@contextmanager
def _aws(action: str, where: str) -> Iterator[None]:
    """Turn what boto3 raises into a ``QueueError`` that says what to fix."""
    from botocore.exceptions import (
        BotoCoreError,
        ClientError,
        NoCredentialsError,
        NoRegionError,
        PartialCredentialsError,
    )
    from botocore.exceptions import ConnectionError as AWSConnectionError

    try:
        yield
    except ClientError as exc:
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "?"), error.get("Message", "")
        if code in _MISSING_QUEUE:
            text = (
                f"SQS queue {where} does not exist (create it with `manage.py "
                "setup_retry_admin`, or check SQS_QUEUE_URL, SQS_DLQ_URL and the region)"
            )
        elif code in _THROTTLED:
            text = f"SQS is throttling {action} on {where}; try again later ({code}: {message})"
        elif code in _BAD_CREDENTIALS:
            text = f"AWS refused the credentials for {action} on {where} ({code}: {message})"
        else:
            text = f"SQS {action} on {where} failed: {code}: {message}"
        raise QueueError(text) from exc
    except (NoCredentialsError, PartialCredentialsError) as exc:
        raise QueueError(
            f"No AWS credentials for SQS {action} ({exc}); set them the standard way "
            "(AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, a profile, or an instance role)"
        ) from exc
    except NoRegionError as exc:
        raise QueueError(
            "No AWS region for SQS: set AWS_REGION, or use a queue URL that names one"
        ) from exc
    except AWSConnectionError as exc:
        raise QueueError(f"SQS endpoint unreachable for {action} on {where}: {exc}") from exc
    except BotoCoreError as exc:
        raise QueueError(f"SQS {action} on {where} failed: {exc}") from exc


def _pack(message: dict) -> str:
    return json.dumps(
        [
            message["ReceiptHandle"],
            message["MessageId"],
            _receive_count(message),
            message["Body"],
        ]
    )


def _unpack(handle: str) -> tuple[str, str, int, str]:
    try:
        receipt, message_id, count, body = json.loads(handle)
    except (TypeError, ValueError):
        raise QueueError(f"Not a receipt handle of the SQS queue: {handle[:80]!r}") from None
    return receipt, message_id, count, body


def _receive_count(message: dict) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def _chunks(items: Sequence, size: int = MAX_BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _body_problem(body: str) -> str | None:
    bad = XML_UNSAFE.search(body)
    if bad:
        return (
            f"body contains a character SQS does not accept "
            f"(U+{ord(bad.group()):04X} at position {bad.start()})"
        )
    size = len(body.encode("utf-8"))
    if size > SQSQueue.max_body_bytes:
        return (
            f"body is {size} bytes; the SQS backend accepts at most {SQSQueue.max_body_bytes} "
            "bytes (256 KiB less room for dead-letter attributes)"
        )
    return None


class SQSQueue(ReceivingDeadLetters):
    move_chunk = MAX_BATCH
    name = "sqs"
    max_send_batch = MAX_BATCH
    max_receive = MAX_BATCH
    # SQS's 256 KiB, less room for the attributes dead_letter adds, so a
    # message that got on the queue can always be copied to the DLQ.
    max_body_bytes = 256 * 1024 - 2048
    transactional = False
    redrives = True

    def __init__(self, *, queue_name: str) -> None:
        self.queue_name = queue_name
        self.endpoint_url = settings.AWS_ENDPOINT_URL or None
        self._configured_url = settings.SQS_QUEUE_URL
        self._configured_dlq_url = settings.SQS_DLQ_URL
        self.main_name = _last_segment(self._configured_url) or queue_name
        self.dlq_name = _last_segment(self._configured_dlq_url) or f"{self.main_name}-dlq"
        self.region = (
            settings.AWS_REGION
            or _region_from_url(self._configured_url)
            or ("us-east-1" if self.endpoint_url else None)
        )
        self._urls: dict[str, str] = {}
        self._client_lock = threading.Lock()
        self._client_obj = None

    def describe(self) -> str:
        where = self._configured_url or f"queue {self.main_name!r}"
        via = f" via {self.endpoint_url}" if self.endpoint_url else ""
        return f"SQS {where} (DLQ {self._configured_dlq_url or self.dlq_name}){via}"

    # Plumbing

    def _client(self):
        with self._client_lock:
            if self._client_obj is None:
                import boto3
                from botocore.config import Config

                config = Config(
                    retries={"max_attempts": 3, "mode": "standard"},
                    connect_timeout=5,
                    read_timeout=settings.SQS_WAIT_SECONDS + 20,
                    max_pool_connections=20,
                )
                with _aws("connect", self.describe()):
                    self._client_obj = boto3.session.Session().client(
                        "sqs",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=config,
                    )
            return self._client_obj

    def _call(self, operation: str, where: str, **params: Any) -> dict:
        """Call an SQS API by its AWS name (``SendMessageBatch``), so errors name it."""
        from botocore import xform_name

        method = getattr(self._client(), xform_name(operation))
        with _aws(operation, where):
            return method(**params)

    def _url(self, name: str, configured: str) -> str:
        if configured:
            return configured
        if name not in self._urls:
            self._urls[name] = self._call("GetQueueUrl", f"{name!r}", QueueName=name)["QueueUrl"]
        return self._urls[name]

    def _main(self) -> str:
        return self._url(self.main_name, self._configured_url)

    def _dlq(self) -> str:
        return self._url(self.dlq_name, self._configured_dlq_url)

    def _send_entries(
        self, url: str, entries: Sequence[tuple[int, str, dict]], delay: int
    ) -> dict[int, SendResult]:
        """One SendMessageBatch (at most 10 entries), retrying the entries SQS
        failed on its side; the ones it refused are reported."""
        results: dict[int, SendResult] = {}
        todo = list(entries)
        last_error = ""
        for attempt in range(SEND_ATTEMPTS):
            response = self._call(
                "SendMessageBatch",
                url,
                QueueUrl=url,
                Entries=[
                    {
                        "Id": str(key),
                        "MessageBody": body,
                        "DelaySeconds": delay,
                        **({"MessageAttributes": attributes} if attributes else {}),
                    }
                    for key, body, attributes in todo
                ],
            )
            for ok in response.get("Successful", []):
                results[int(ok["Id"])] = SendResult(True)
            retry_ids = set()
            for failed in response.get("Failed", []):
                error = f"SQS refused it: {failed.get('Code')}: {failed.get('Message', '')}"
                if failed.get("SenderFault"):
                    results[int(failed["Id"])] = SendResult(False, error)
                else:
                    retry_ids.add(int(failed["Id"]))
                    last_error = error
            todo = [entry for entry in todo if entry[0] in retry_ids]
            if not todo:
                break
            time.sleep(0.2 * 2**attempt)
        for key, _, _ in todo:
            results[key] = SendResult(False, f"{last_error} (after {SEND_ATTEMPTS} attempts)")
        return results

    def _send(
        self, url: str, items: Sequence[tuple[int, str, dict]], delay: int = 0
    ) -> dict[int, SendResult]:
        """Send in batches of 10 and 256 KiB. Raises ``QueueError`` only when
        nothing reached the queue; after that, later batches that fail are
        reported per entry."""
        results: dict[int, SendResult] = {}
        for batch in _size_batches(items):
            try:
                results.update(self._send_entries(url, batch, delay))
            except QueueError as exc:
                if not any(result.ok for result in results.values()):
                    raise
                for key, _, _ in batch:
                    results.setdefault(key, SendResult(False, str(exc)))
        return results

    def _receive_from(
        self, url: str, count: int, visibility: int, wait: int
    ) -> list[dict[str, Any]]:
        response = self._call(
            "ReceiveMessage",
            url,
            QueueUrl=url,
            MaxNumberOfMessages=count,
            VisibilityTimeout=min(max(visibility, 0), MAX_VISIBILITY_SECONDS),
            WaitTimeSeconds=wait,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        )
        return response.get("Messages", [])

    def _change_visibility(self, url: str, receipts: Sequence[str], seconds: int) -> set[str]:
        """Returns the receipts SQS refused."""
        seconds = min(max(seconds, 0), MAX_VISIBILITY_SECONDS)
        refused: set[str] = set()
        for chunk in _chunks(receipts):
            response = self._call(
                "ChangeMessageVisibilityBatch",
                url,
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": receipt, "VisibilityTimeout": seconds}
                    for i, receipt in enumerate(chunk)
                ],
            )
            for failed in response.get("Failed", []):
                # The message is no longer ours (deleted, or its visibility ran
                # out and someone else holds it): nothing left to release.
                logger.warning("SQS did not change a message's visibility: %s", failed)
                refused.add(chunk[int(failed["Id"])])
        return refused

    def _delete(self, url: str, receipts: Sequence[str]) -> int:
        deleted = 0
        for chunk in _chunks(receipts):
            response = self._call(
                "DeleteMessageBatch",
                url,
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": r} for i, r in enumerate(chunk)],
            )
            deleted += len(response.get("Successful", []))
            for failed in response.get("Failed", []):
                # It comes back after its visibility timeout; the sender skips
                # a message whose log already has an outcome.
                logger.warning("SQS did not delete a message: %s", failed)
        return deleted

    # Main queue

    def send(
        self, bodies: Sequence[str], *, delay_seconds: int = 0, priority: int = 0
    ) -> list[SendResult]:
        """SQS has no priorities: ``priority`` is ignored."""
        results: dict[int, SendResult] = {}
        items = []
        for index, body in enumerate(bodies):
            problem = _body_problem(body)
            if problem:
                results[index] = SendResult(False, problem)
            else:
                items.append((index, body, {}))
        if items:
            delay = min(max(delay_seconds, 0), MAX_DELAY_SECONDS)
            results.update(self._send(self._main(), items, delay))
        return [results[index] for index in range(len(bodies))]

    def receive(self, max_messages: int, *, visibility_timeout: int) -> list[ReceivedMessage]:
        """Receive in tens while messages keep coming; only the first call
        long-polls (``SQS_WAIT_SECONDS``), so a drained queue ends the loop."""
        url = self._main()
        received: list[ReceivedMessage] = []
        wait = settings.SQS_WAIT_SECONDS
        while len(received) < max_messages:
            try:
                messages = self._receive_from(
                    url, min(MAX_BATCH, max_messages - len(received)), visibility_timeout, wait
                )
            except QueueError:
                if not received:
                    raise
                break  # keep what is in hand: it is invisible to others anyway
            wait = 0
            if not messages:
                break
            received.extend(
                ReceivedMessage(_pack(m), m["Body"], _receive_count(m)) for m in messages
            )
        return received

    def ack(self, handles: Sequence[str]) -> None:
        if handles:
            self._delete(self._main(), [_unpack(h)[0] for h in handles])

    def release(self, handles: Sequence[str], *, delay_seconds: int = 0) -> None:
        if handles:
            self._change_visibility(self._main(), [_unpack(h)[0] for h in handles], delay_seconds)

    def extend(self, handles: Sequence[str], *, visibility_timeout: int) -> dict[str, str]:
        if not handles:
            return {}
        refused = self._change_visibility(
            self._main(), [_unpack(h)[0] for h in handles], visibility_timeout
        )
        return {h: h for h in handles if _unpack(h)[0] not in refused}

    def dead_letter(self, handles: Sequence[str], *, reason: str) -> None:
        """Copy to the DLQ (with reason, receive count and time as attributes),
        then delete from the main queue what was copied."""
        if not handles:
            return
        now = datetime.now(UTC).isoformat()
        unpacked = [_unpack(h) for h in handles]
        items = [
            (
                index,
                body,
                {
                    ATTR_REASON: _text_attribute(reason[:MAX_REASON_CHARS] or "-"),
                    ATTR_RECEIVES: {"DataType": "Number", "StringValue": str(count)},
                    ATTR_DEAD_AT: _text_attribute(now),
                },
            )
            for index, (_, _, count, body) in enumerate(unpacked)
        ]
        results = self._send(self._dlq(), items)
        copied = [unpacked[i][0] for i, result in results.items() if result.ok]
        self._delete(self._main(), copied)
        failed = {unpacked[i][1]: r.error for i, r in results.items() if not r.ok}
        if failed:
            raise QueueError(
                f"{len(failed)} message(s) could not be copied to the DLQ and stay on the "
                f"main queue: {failed}"
            )

    def depth(self) -> QueueDepth:
        attributes = self._attributes(self._main())
        return QueueDepth(
            visible=int(attributes.get("ApproximateNumberOfMessages", 0)),
            in_flight=int(attributes.get("ApproximateNumberOfMessagesNotVisible", 0)),
            delayed=int(attributes.get("ApproximateNumberOfMessagesDelayed", 0)),
        )

    def _attributes(self, url: str) -> dict[str, str]:
        return self._call(
            "GetQueueAttributes",
            url,
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        ).get("Attributes", {})

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


def _size_batches(
    items: Sequence[tuple[int, str, dict]],
) -> Iterator[list[tuple[int, str, dict]]]:
    """At most 10 entries and 256 KiB of bodies and attributes per batch."""
    batch: list[tuple[int, str, dict]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode("utf-8")) + _attributes_size(item[2])
        if batch and (len(batch) == MAX_BATCH or size + item_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def _attributes_size(attributes: dict) -> int:
    return sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"].encode("utf-8"))
        for name, value in attributes.items()
    )


def _text_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": XML_UNSAFE.sub("?", value)}


def _last_segment(url: str) -> str:
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] if url else ""


def _region_from_url(url: str) -> str | None:
    match = _REGION_IN_URL.search(urlparse(url).hostname or "") if url else None
    return (match.group(1) or match.group(2)) if match else None
