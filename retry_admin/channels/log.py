import logging

from retry_admin.channels.base import Channel, OutgoingMessage

logger = logging.getLogger("retry_admin.deliveries")


class LogChannel(Channel):
    """Delivers by writing one line per message to the delivery log
    (``var/deliveries.log``): the default, for trying the product out."""

    name = "log"
    concurrent = False

    def send(self, message: OutgoingMessage) -> None:
        logger.info(
            "delivered message_id=%s attempt=%d to=%r body=%r",
            message.message_id,
            message.attempt,
            message.recipient,
            message.body,
        )
