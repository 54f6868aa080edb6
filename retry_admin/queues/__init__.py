from functools import cache

from django.conf import settings
from django.utils.module_loading import import_string

from retry_admin.queues.base import QueueBackend, QueueError
from retry_admin.queues.registry import BACKENDS

__all__ = ["QueueBackend", "QueueError", "get_backend"]


def get_backend(name: str | None = None) -> QueueBackend:
    """The configured backend (``QUEUE_BACKEND``), one instance per process."""
    return _load(name or settings.QUEUE_BACKEND, settings.QUEUE_NAME)


@cache
def _load(name: str, queue_name: str) -> QueueBackend:
    if name not in BACKENDS:
        raise QueueError(f"Unknown queue backend {name!r}; known: {', '.join(sorted(BACKENDS))}")
    return import_string(BACKENDS[name])(queue_name=queue_name)


def reset_backends() -> None:
    """Forget loaded backends (tests that change QUEUE_BACKEND or QUEUE_NAME)."""
    _load.cache_clear()
