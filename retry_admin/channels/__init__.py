from functools import cache

from django.utils.module_loading import import_string

from retry_admin.channels.base import (
    Channel,
    ChannelError,
    OutgoingMessage,
    PermanentError,
    TransientError,
)
from retry_admin.channels.registry import CHANNELS

__all__ = [
    "Channel",
    "ChannelError",
    "OutgoingMessage",
    "PermanentError",
    "TransientError",
    "UnknownChannel",
    "get_channel",
]


class UnknownChannel(LookupError):
    pass


@cache
def get_channel(name: str) -> Channel:
    """The channel called ``name``, one instance per process."""
    if name not in CHANNELS:
        raise UnknownChannel(f"Unknown channel {name!r}; known: {', '.join(sorted(CHANNELS))}")
    return import_string(CHANNELS[name][1])()


def reset_channels() -> None:
    """Forget built channels (tests that change channel settings)."""
    get_channel.cache_clear()
