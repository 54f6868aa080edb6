"""SQS's wire rules: its limits, how its errors read, the receipt-handle
codec and the body and attribute checks made before anything is sent."""

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlparse

from retry_admin.queues.base import XML_UNSAFE, QueueError, pack_handle, unpack_handle

MAX_BATCH = 10
MAX_BATCH_BYTES = 256 * 1024
# Room is left for the attributes dead_letter adds.
MAX_BODY_BYTES = MAX_BATCH_BYTES - 2048
MAX_DELAY_SECONDS = 900
MAX_VISIBILITY_SECONDS = 12 * 3600
DLQ_RETENTION_SECONDS = 14 * 24 * 3600  # the most SQS keeps anything
SEND_ATTEMPTS = 3
# SendMessageBatch calls in flight at once from one send() (each is a round
# trip of tens of ms to real SQS; the client pools up to 20 connections).
SEND_CONCURRENCY = 8

ATTR_REASON = "RetryAdminReason"
ATTR_RECEIVES = "RetryAdminReceiveCount"
ATTR_DEAD_AT = "RetryAdminDeadAt"
MAX_REASON_CHARS = 1000

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
def aws_errors(action: str, where: str) -> Iterator[None]:
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


def pack(message: dict) -> str:
    """receipt handle, message id, receive count, body"""
    return pack_handle(
        message["ReceiptHandle"], message["MessageId"], receive_count(message), message["Body"]
    )


def unpack(handle: str) -> tuple[str, str, int, str]:
    return tuple(unpack_handle(handle, 4, transport="SQS queue"))


def receive_count(message: dict) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", 1))


def chunks(items: Sequence, size: int = MAX_BATCH) -> Iterator[Sequence]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def body_problem(body: str) -> str | None:
    bad = XML_UNSAFE.search(body)
    if bad:
        return (
            f"body contains a character SQS does not accept "
            f"(U+{ord(bad.group()):04X} at position {bad.start()})"
        )
    size = len(body.encode("utf-8"))
    if size > MAX_BODY_BYTES:
        return (
            f"body is {size} bytes; the SQS backend accepts at most {MAX_BODY_BYTES} "
            "bytes (256 KiB less room for dead-letter attributes)"
        )
    return None


def size_batches(
    items: Sequence[tuple[int, str, dict]],
) -> Iterator[list[tuple[int, str, dict]]]:
    """At most 10 entries and 256 KiB of bodies and attributes per batch."""
    batch: list[tuple[int, str, dict]] = []
    size = 0
    for item in items:
        item_size = len(item[1].encode("utf-8")) + attributes_size(item[2])
        if batch and (len(batch) == MAX_BATCH or size + item_size > MAX_BATCH_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        yield batch


def attributes_size(attributes: dict) -> int:
    return sum(
        len(name) + len(value["DataType"]) + len(value["StringValue"].encode("utf-8"))
        for name, value in attributes.items()
    )


def text_attribute(value: str) -> dict[str, str]:
    return {"DataType": "String", "StringValue": XML_UNSAFE.sub("?", value)}


def last_segment(url: str) -> str:
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1] if url else ""


def region_from_url(url: str) -> str | None:
    match = _REGION_IN_URL.search(urlparse(url).hostname or "") if url else None
    return (match.group(1) or match.group(2)) if match else None
