"""The delivery channel contract.

``Channel.send`` returns when the message was delivered, or raises
``TransientError`` (worth retrying later) or ``PermanentError`` (retrying
cannot help). Anything else a channel raises is treated as transient by the
sender, so one bad message never stops a batch.
"""

import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple


class ChannelError(Exception):
    permanent = False


class TransientError(ChannelError):
    pass


class PermanentError(ChannelError):
    permanent = True


class OutgoingMessage(NamedTuple):
    """One message for a channel to deliver (a tuple: the sender makes one
    per message, and a frozen dataclass cost twice as much to build)."""

    message_id: uuid.UUID  # also the idempotency key
    recipient: str
    body: str
    attempt: int
    batch_id: int | None = None
    context: Mapping = MappingProxyType({})  # read-only: one default for every message
    # The batch's template, for channels that send a provider-side template
    # by name with its placeholders as parameters (channels/whatsapp.py).
    template_name: str = ""
    template_body: str = ""


class Channel:
    name: str = ""
    # Whether the sender should fan sends out over its thread pool: true for
    # channels that wait on I/O, false for ones that return in microseconds.
    concurrent: bool = True

    def send(self, message: OutgoingMessage) -> None:
        raise NotImplementedError

    def recipient_problem(self, recipient: str) -> str | None:
        """Why this channel can never deliver to ``recipient`` (checked per
        line when a batch is created), or None. Any address by default."""
        return None

    def flush(self) -> None:
        """Finish what ``send`` left buffered. The sender calls it, in the
        thread that sent, after each window of sends and before recording
        their outcomes; a channel that writes nothing later has nothing to do."""
