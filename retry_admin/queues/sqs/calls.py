"""The SQS API calls SQSQueue is built on: one boto3 client made on first
use, queue URLs looked up once, SendMessageBatch in batches of 10 and
256 KiB with SQS's own failures retried and ``SEND_CONCURRENCY`` calls in
flight, receive, visibility changes, deletes and queue attributes. Every
error is a ``QueueError`` naming the operation (``wire.aws_errors``)."""

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings

from retry_admin.queues.base import QueueError, SendResult
from retry_admin.queues.sqs.wire import (
    MAX_VISIBILITY_SECONDS,
    SEND_ATTEMPTS,
    SEND_CONCURRENCY,
    aws_errors,
    chunks,
    size_batches,
)

logger = logging.getLogger(__name__)


class SQSCalls:
    """The calls; the queue sets where they go (these attributes) and says
    what it is (``describe``, for the errors)."""

    endpoint_url: str | None
    region: str | None
    main_name: str
    dlq_name: str
    _configured_url: str
    _configured_dlq_url: str

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}
        self._client_lock = threading.Lock()
        self._client_obj = None
        self._pool: ThreadPoolExecutor | None = None

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
                with aws_errors("connect", self.describe()):
                    self._client_obj = boto3.session.Session().client(
                        "sqs",
                        endpoint_url=self.endpoint_url,
                        region_name=self.region,
                        config=config,
                    )
            return self._client_obj

    def close(self) -> None:
        """Stop the send threads (idle between sends)."""
        with self._client_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False)

    def _call(self, operation: str, where: str, **params: Any) -> dict:
        """Call an SQS API by its AWS name (``SendMessageBatch``), so errors name it."""
        from botocore import xform_name

        method = getattr(self._client(), xform_name(operation))
        with aws_errors(operation, where):
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
        """Send in batches of 10 and 256 KiB, ``SEND_CONCURRENCY`` calls in
        flight at once. Raises ``QueueError`` only when nothing reached the
        queue; otherwise the batches that failed are reported per entry."""
        batches = list(size_batches(items))
        if len(batches) > 1:
            with self._client_lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(
                        SEND_CONCURRENCY, thread_name_prefix="retry-admin-sqs"
                    )
            self._client()  # made once, before the threads share it
            futures = [self._pool.submit(self._send_entries, url, b, delay) for b in batches]
        else:
            futures = None
        results: dict[int, SendResult] = {}
        first_error: QueueError | None = None
        for index, batch in enumerate(batches):
            try:
                sent = futures[index].result() if futures else self._send_entries(url, batch, delay)
            except QueueError as exc:
                first_error = first_error or exc
                for key, _, _ in batch:
                    results[key] = SendResult(False, str(exc))
            else:
                results.update(sent)
        if first_error is not None and not any(result.ok for result in results.values()):
            raise first_error
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

    def _on_receipts(
        self, operation: str, url: str, receipts: Sequence[str], **entry: Any
    ) -> Iterator[tuple[Sequence[str], dict]]:
        """``operation`` (a ``*Batch`` call on receipt handles, ``entry``
        added to each) in chunks of 10: each chunk with SQS's answer to it."""
        for chunk in chunks(receipts):
            entries = [{"Id": str(i), "ReceiptHandle": r, **entry} for i, r in enumerate(chunk)]
            yield chunk, self._call(operation, url, QueueUrl=url, Entries=entries)

    def _change_visibility(self, url: str, receipts: Sequence[str], seconds: int) -> set[str]:
        """Returns the receipts SQS refused."""
        seconds = min(max(seconds, 0), MAX_VISIBILITY_SECONDS)
        refused: set[str] = set()
        answers = self._on_receipts(
            "ChangeMessageVisibilityBatch", url, receipts, VisibilityTimeout=seconds
        )
        for chunk, response in answers:
            for failed in response.get("Failed", []):
                # The message is no longer ours (deleted, or its visibility ran
                # out and someone else holds it): nothing left to release.
                logger.warning("SQS did not change a message's visibility: %s", failed)
                refused.add(chunk[int(failed["Id"])])
        return refused

    def _delete(self, url: str, receipts: Sequence[str]) -> int:
        deleted = 0
        for _, response in self._on_receipts("DeleteMessageBatch", url, receipts):
            deleted += len(response.get("Successful", []))
            for failed in response.get("Failed", []):
                # It comes back after its visibility timeout; the sender skips
                # a message whose log already has an outcome.
                logger.warning("SQS did not delete a message: %s", failed)
        return deleted

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
