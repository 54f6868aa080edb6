import pytest

from retry_admin.models import Batch
from retry_admin.queues import get_backend
from retry_admin.services.sender import sender_drain


def receive_and_drop(times: int = 1) -> None:
    """Workers that received every visible message and died before recording it."""
    backend = get_backend()
    for _ in range(times):
        received = backend.receive(1000, visibility_timeout=30)
        assert received, "expected messages on the queue"
        backend.release([m.handle for m in received])


@pytest.fixture
def make_dead_lettered(make_batch, settings):
    """A batch whose messages reached the DLQ the way it happens in production:
    received more than QUEUE_MAX_RECEIVES times without an outcome."""

    def make(count: int = 3) -> Batch:
        settings.QUEUE_MAX_RECEIVES = 1
        batch = make_batch(count)
        receive_and_drop()
        report = sender_drain(until_empty=True)
        assert report.dead_lettered == count
        return batch

    return make
