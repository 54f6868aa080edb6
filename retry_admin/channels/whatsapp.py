"""WhatsApp Business Cloud API: one template message per delivery.

The request is the Cloud API's documented send-message call::

    POST <WHATSAPP_API_BASE_URL>/<WHATSAPP_API_VERSION>/<WHATSAPP_PHONE_NUMBER_ID>/messages
    Authorization: Bearer <WHATSAPP_ACCESS_TOKEN>
    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "<phone>",
     "type": "template", "biz_opaque_callback_data": "<message id>",
     "template": {"name": "<template name>", "language": {"code": "en_US"},
                  "components": [{"type": "body", "parameters": [...]}]}}

The template sent is the batch's template by name (it must exist, approved,
under the same name in WhatsApp Manager); its ``{{ placeholders }}`` become
the body parameters, filled from the recipient's columns: named parameters
(``parameter_name``) by default, or positional in order of first appearance
(``WHATSAPP_PARAMETER_FORMAT=positional``). A ``language`` column overrides
``WHATSAPP_LANGUAGE`` per recipient.

The message id travels as ``biz_opaque_callback_data`` (WhatsApp returns it
in its status webhooks) and is logged with the ``wamid`` WhatsApp answers.
The Cloud API takes no idempotency key, so a request that reached it but got
no answer (a read timeout, a connection lost mid-answer) has an unknown
outcome: ``WHATSAPP_NO_ANSWER_OUTCOME`` says whether that is retried
(``transient``, the default: a possible double send) or given up
(``permanent``: a possible lost send). A connection that was never made is
always transient: nothing was sent.

Error codes (``error.code`` of the Graph API error body) are sorted as the
error-codes reference describes them (docs/backends.md, "WhatsApp channel",
has the table); an unknown code falls back on the HTTP status.
"""

import logging
import re
from functools import lru_cache

import requests
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from retry_admin.channels.base import Channel, OutgoingMessage, PermanentError, TransientError
from retry_admin.channels.http import ThreadSessions
from retry_admin.models.templating import PLACEHOLDER_RE

logger = logging.getLogger(__name__)

# Worth trying again later: throttling and temporary service errors.
TRANSIENT_CODES: dict[int, str] = {
    1: "API unknown (possible server error)",
    2: "API service temporarily unavailable",
    4: "API too many calls (app rate limit)",
    80007: "WhatsApp Business Account rate limit",
    130429: "Cloud API throughput rate limit hit",
    131000: "Something went wrong",
    131016: "Service temporarily unavailable",
    131048: "Spam rate limit hit",
    131049: "Meta chose not to deliver (per-user marketing limit)",
    131056: "Pair rate limit hit (too many to this recipient)",
    131057: "Business account in maintenance mode",
    133004: "Server temporarily unavailable",
}
# Retrying the same request cannot help: the recipient, the template or the
# account must change first (an admin can retry by hand after fixing it).
PERMANENT_CODES: dict[int, str] = {
    0: "Authentication failed",
    3: "Capability or permissions issue",
    10: "Permission denied",
    33: "Business phone number deleted or invalid",
    100: "Invalid parameter",
    190: "Access token expired or invalid",
    368: "Temporarily blocked for policy violations",
    130472: "Recipient's number is part of an experiment",
    130497: "Business account restricted from messaging this country",
    131005: "Access denied",
    131008: "Required parameter missing",
    131009: "Parameter value not valid",
    131021: "Recipient cannot be the sender",
    131026: "Message undeliverable (recipient not on WhatsApp or cannot receive it)",
    131030: "Recipient not in the allowed list",
    131031: "Business account locked",
    131037: "Display name needs approval",
    131042: "Business eligibility (payment) issue",
    131045: "Phone number not registered (certificate)",
    131047: "Re-engagement window closed (24 h since the recipient's last message)",
    131050: "Recipient stopped marketing messages",
    131051: "Unsupported message type",
    132000: "Template parameter count mismatch",
    132001: "Template does not exist in this language",
    132005: "Template text too long once filled",
    132007: "Template format character policy violated",
    132012: "Template parameter format mismatch",
    132015: "Template paused (low quality)",
    132016: "Template disabled",
    133010: "Business phone number not registered",
}
# Permission errors come as a range (200-299), template errors 132000-132016.
_PERMANENT_RANGES = [(200, 299), (132000, 132016)]
_TRANSIENT_STATUSES = {408, 429}

_PHONE_NOISE = re.compile(r"[\s().-]")
_PHONE = re.compile(r"\+?[1-9][0-9]{6,14}")


def classify(code: int | None, status: int) -> bool:
    """True when the error is worth retrying (transient)."""
    if code in TRANSIENT_CODES:
        return True
    if code in PERMANENT_CODES or any(lo <= (code or -1) <= hi for lo, hi in _PERMANENT_RANGES):
        return False
    return status in _TRANSIENT_STATUSES or status >= 500


@lru_cache(maxsize=256)
def template_parameters(body: str) -> tuple[str, ...]:
    """The template's placeholder names, each once, in order of first appearance."""
    return tuple(dict.fromkeys(PLACEHOLDER_RE.findall(body)))


def phone_number(recipient: str) -> str:
    """The recipient as the Cloud API's ``to`` (digits, optional ``+``), or
    ``PermanentError`` when it is not a phone number at all."""
    number = _PHONE_NOISE.sub("", recipient)
    if not _PHONE.fullmatch(number):
        raise PermanentError(f"Recipient {recipient!r} is not a phone number for WhatsApp")
    return number


NOT_A_PHONE_NUMBER = "not a phone number for WhatsApp (7-15 digits, optionally after +)"


def _never_sent(exc: requests.RequestException) -> bool:
    """Whether the connection was never made (so nothing reached WhatsApp)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError))


class WhatsAppChannel(Channel):
    name = "whatsapp"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        version: str | None = None,
        phone_number_id: str | None = None,
        access_token: str | None = None,
        language: str | None = None,
        parameter_format: str | None = None,
        timeout: float | None = None,
        no_answer_outcome: str | None = None,
    ) -> None:
        pick = lambda value, name: getattr(settings, name) if value is None else value  # noqa: E731
        self.base_url = pick(base_url, "WHATSAPP_API_BASE_URL").rstrip("/")
        self.version = pick(version, "WHATSAPP_API_VERSION")
        self.phone_number_id = pick(phone_number_id, "WHATSAPP_PHONE_NUMBER_ID")
        self.access_token = pick(access_token, "WHATSAPP_ACCESS_TOKEN")
        self.language = pick(language, "WHATSAPP_LANGUAGE")
        self.parameter_format = pick(parameter_format, "WHATSAPP_PARAMETER_FORMAT")
        self.timeout = pick(timeout, "WHATSAPP_TIMEOUT_SECONDS")
        self.no_answer_outcome = pick(no_answer_outcome, "WHATSAPP_NO_ANSWER_OUTCOME")
        self._sessions = ThreadSessions()

    def recipient_problem(self, recipient: str) -> str | None:
        return None if _PHONE.fullmatch(_PHONE_NOISE.sub("", recipient)) else NOT_A_PHONE_NUMBER

    @property
    def url(self) -> str:
        return f"{self.base_url}/{self.version}/{self.phone_number_id}/messages"

    def request_body(self, message: OutgoingMessage) -> dict:
        """The Cloud API's template-message request for ``message``."""
        if not message.template_name:
            raise PermanentError("The WhatsApp channel needs the batch's template name")
        values = {**message.context, "recipient": message.recipient}
        parameters = []
        for name in template_parameters(message.template_body):
            if name not in values:
                raise PermanentError(f"Template placeholder {name!r} has no value")
            parameter = {"type": "text", "text": str(values[name])}
            if self.parameter_format == "named":
                parameter["parameter_name"] = name
            parameters.append(parameter)
        template: dict = {
            "name": message.template_name,
            "language": {"code": str(message.context.get("language") or self.language)},
        }
        if parameters:
            template["components"] = [{"type": "body", "parameters": parameters}]
        return {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": phone_number(message.recipient),
            "type": "template",
            "biz_opaque_callback_data": str(message.message_id),
            "template": template,
        }

    def send(self, message: OutgoingMessage) -> None:
        if not (self.phone_number_id and self.access_token):
            raise PermanentError(
                "The WhatsApp channel needs WHATSAPP_PHONE_NUMBER_ID and WHATSAPP_ACCESS_TOKEN"
            )
        payload = self.request_body(message)
        try:
            response = self._sessions.post_json(
                self.url,
                payload,
                timeout=self.timeout,
                headers={"Authorization": f"Bearer {self.access_token}"},
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            if _never_sent(exc):
                raise TransientError(
                    f"WhatsApp unreachable ({exc.__class__.__name__}): nothing was sent"
                ) from None
            detail = (
                f"WhatsApp gave no answer ({exc.__class__.__name__} after "
                f"{self.timeout} s at most) once the request was sent: it may have been delivered"
            )
            logger.warning("whatsapp no answer message_id=%s", message.message_id)
            if self.no_answer_outcome == "permanent":
                raise PermanentError(detail) from None
            raise TransientError(detail) from None
        except requests.RequestException as exc:
            raise TransientError(f"WhatsApp request failed: {exc.__class__.__name__}") from None
        self._check(message, response)

    def _check(self, message: OutgoingMessage, response: requests.Response) -> None:
        status = response.status_code
        try:
            data = response.json()
        except ValueError:
            data = None
        if 200 <= status < 300:
            wamid = ""
            if isinstance(data, dict) and isinstance(data.get("messages"), list):
                first = data["messages"][0] if data["messages"] else {}
                wamid = first.get("id", "") if isinstance(first, dict) else ""
            logger.info("whatsapp accepted message_id=%s wamid=%s", message.message_id, wamid)
            return
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), int) else None
        details = error.get("error_data", {})
        details = details.get("details", "") if isinstance(details, dict) else ""
        text = str(error.get("message") or response.text[:200] or "no body")
        known = TRANSIENT_CODES.get(code) or PERMANENT_CODES.get(code) or ""
        detail = f"WhatsApp error {code if code is not None else '-'} (HTTP {status}): {text}"
        if details:
            detail += f" ({details})"
        elif known and known.lower() not in text.lower():
            detail += f" ({known})"
        transient = classify(code, status)
        logger.info(
            "whatsapp refused message_id=%s code=%s status=%d transient=%s",
            message.message_id,
            code,
            status,
            transient,
        )
        raise (TransientError if transient else PermanentError)(detail)
