"""Azure Storage Queue's wire rules: its limits, how its errors read and the
receipt-handle codec."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from retry_admin.queues.base import QueueError, pack_handle, unpack_handle

MAX_MESSAGE_BYTES = 64 * 1024
MAX_PER_CALL = 32
MAX_VISIBILITY_SECONDS = 7 * 24 * 3600
THREADS = 8
NEVER_EXPIRE = -1  # Azure drops messages after 7 days unless told otherwise

GONE = {"MessageNotFound", "PopReceiptMismatch"}


@contextmanager
def azure_errors(action: str, where: str) -> Iterator[None]:
    """Turn what the Azure SDK raises into a ``QueueError`` that says what to fix."""
    from azure.core.exceptions import (
        AzureError,
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    try:
        yield
    except ResourceNotFoundError as exc:
        raise QueueError(
            f"Azure queue {where} does not exist (create it with `manage.py "
            "setup_retry_admin`, or check QUEUE_NAME and the storage account)"
        ) from exc
    except ClientAuthenticationError as exc:
        raise QueueError(
            f"Azure Storage refused the credentials for {action} on {where}: check the "
            f"account key or SAS in AZURE_STORAGE_CONNECTION_STRING ({error_code(exc)})"
        ) from exc
    except HttpResponseError as exc:
        code = error_code(exc)
        if exc.status_code in (500, 503) or code in ("ServerBusy", "OperationTimedOut"):
            text = f"Azure Storage is busy or throttling {action} on {where}; try again later"
        elif exc.status_code == 403:
            text = f"Azure Storage refused {action} on {where}: check the credentials"
        else:
            text = f"Azure Storage {action} on {where} failed"
        raise QueueError(f"{text} ({code}: {first_line(exc)})") from exc
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise QueueError(
            f"Azure Storage endpoint unreachable for {action} on {where}: {first_line(exc)}"
        ) from exc
    except AzureError as exc:
        raise QueueError(f"Azure Storage {action} on {where} failed: {first_line(exc)}") from exc


def error_code(exc: Exception) -> str:
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or getattr(exc, "status_code", "") or "?")


def first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]


def is_gone(exc: Exception) -> bool:
    """The message was deleted, or re-received by someone else since."""
    return error_code(exc) in GONE


def pack(message: Any) -> str:
    """message id, pop receipt, raw content, dequeue count"""
    return pack_handle(message.id, message.pop_receipt, message.content, message.dequeue_count)


def unpack(handle: str) -> tuple[str, str, str, int]:
    return tuple(unpack_handle(handle, 4, transport="Azure queue"))
