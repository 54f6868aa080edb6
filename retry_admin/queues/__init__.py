import threading

from django.conf import settings
from django.utils.module_loading import import_string

from retry_admin.queues.base import QueueBackend, QueueError
from retry_admin.queues.registry import BACKENDS

__all__ = ["QueueBackend", "QueueError", "get_backend"]


def get_backend(name: str | None = None) -> QueueBackend:
    """The configured backend (``QUEUE_BACKEND``), one instance per process."""
    return _load(name or settings.QUEUE_BACKEND, settings.QUEUE_NAME)


_loaded: dict[tuple[str, str], QueueBackend] = {}
_lock = threading.Lock()


def _load(name: str, queue_name: str) -> QueueBackend:
    with _lock:
        backend = _loaded.get((name, queue_name))
        if backend is None:
            if name not in BACKENDS:
                known = ", ".join(sorted(BACKENDS))
                raise QueueError(f"Unknown queue backend {name!r}; known: {known}")
            backend = _loaded[(name, queue_name)] = import_string(BACKENDS[name])(
                queue_name=queue_name
            )
        return backend


def reset_backends() -> None:
    """Forget loaded backends (tests that change QUEUE_BACKEND or QUEUE_NAME),
    closing what they hold, so that a forgotten one cannot keep consuming."""
    with _lock:
        forgotten = list(_loaded.values())
        _loaded.clear()
    for backend in forgotten:
        backend.close()
