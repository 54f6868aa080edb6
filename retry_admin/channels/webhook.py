import requests
from django.conf import settings

from retry_admin.channels.base import Channel, OutgoingMessage, PermanentError, TransientError
from retry_admin.channels.http import ThreadSessions

_TRANSIENT_STATUSES = {408, 429}


class WebhookChannel(Channel):
    """HTTP POST of each message to ``WEBHOOK_URL``, with the message id as the
    ``Idempotency-Key`` header so a redelivered message has no double effect.

    2xx: sent. 408, 429, 5xx, timeouts and connection errors: transient.
    Any other status: permanent.
    """

    name = "webhook"

    def __init__(self, *, url: str | None = None, timeout: float | None = None) -> None:
        self.url = settings.WEBHOOK_URL if url is None else url
        self.timeout = settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
        self._sessions = ThreadSessions()

    def send(self, message: OutgoingMessage) -> None:
        if not self.url:
            raise PermanentError("WEBHOOK_URL is not set")
        payload = {
            "message_id": str(message.message_id),
            "batch_id": message.batch_id,
            "recipient": message.recipient,
            "body": message.body,
            "attempt": message.attempt,
        }
        try:
            response = self._sessions.post_json(
                self.url,
                payload,
                timeout=self.timeout,
                headers={"Idempotency-Key": str(message.message_id)},
            )
        except requests.Timeout:
            raise TransientError(f"Webhook timed out after {self.timeout} s") from None
        except requests.RequestException as exc:
            raise TransientError(f"Webhook unreachable: {exc.__class__.__name__}: {exc}") from None
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = f"Webhook answered HTTP {status}: {response.text[:200]}"
        if status in _TRANSIENT_STATUSES or status >= 500:
            raise TransientError(detail)
        raise PermanentError(detail)
