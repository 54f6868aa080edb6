import logging
import threading
from logging.handlers import RotatingFileHandler

from config.private import make_private
from retry_admin.channels.base import Channel, OutgoingMessage

logger = logging.getLogger("retry_admin.deliveries")


class LogChannel(Channel):
    """Delivers by writing one line per message to the delivery log
    (``var/deliveries.log``): the default, for trying the product out.

    ``send`` formats the line and keeps it; ``flush`` (after each window, before
    the sender records the window) writes the window's lines in one logging
    call, which ``DeliveryLogHandler`` writes as one line per message. A logging
    call per message was a sixth of the sender's time."""

    name = "log"
    concurrent = False

    def __init__(self) -> None:
        self._local = threading.local()  # each sending thread flushes its own lines

    def send(self, message: OutgoingMessage) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is None:
            lines = self._local.lines = []
        lines.append(
            f"delivered message_id={message.message_id} attempt={int(message.attempt)}"
            f" to={message.recipient!r} body={message.body!r}"
        )

    def flush(self) -> None:
        lines, self._local.lines = getattr(self._local, "lines", None), None
        if lines:
            # !r escaped every newline of a recipient or body: one line per message.
            logger.info("%s", "\n".join(lines), extra={"deliveries": len(lines)})


class DeliveryLogHandler(RotatingFileHandler):
    """The delivery log's file handler. The standard one checks the file with
    two stat() calls and formats every record twice to decide on rotation;
    at thousands of deliveries a second that was a fifth of the sender's time.
    This rotates once the file has passed ``maxBytes`` (by at most one line)."""

    def _open(self):
        stream = super()._open()
        make_private(self.baseFilename)  # recipients and bodies: not for other users
        return stream

    def format(self, record: logging.LogRecord) -> str:
        """A window of deliveries (``LogChannel.flush``) as one line each, every
        line with the record's prefix (time, level, logger)."""
        text = super().format(record)
        if not getattr(record, "deliveries", 0) or not text.endswith(record.message):
            return text
        prefix = text[: len(text) - len(record.message)]
        return text.replace("\n", "\n" + prefix)

    def shouldRollover(self, record: logging.LogRecord) -> bool:
        if self.stream is None:
            self.stream = self._open()
        return self.maxBytes > 0 and self.stream.tell() >= self.maxBytes
