"""One fixture gives every queue test a fresh, empty queue on each backend:
``db`` (the embedded table), ``sqs`` (moto server mode), ``azure``
(Azurite), ``rabbitmq`` (the local broker) and ``redis`` (the local server,
under a key prefix of its own), each under a queue name of its own."""

import uuid

import pytest

from retry_admin.queues import get_backend, reset_backends
from tests.emulators import (  # noqa: F401 (fixtures)
    azurite,
    moto_endpoint,
    rabbitmq_drop,
    rabbitmq_url,
    redis_drop,
    redis_url,
)

BACKENDS = ["db", "sqs", "azure", "rabbitmq", "redis"]


def point_at(settings, request, name: str) -> None:
    """Settings for backend ``name`` on its local endpoint, with a new queue name."""
    queue = f"t-{uuid.uuid4().hex[:16]}"
    settings.QUEUE_BACKEND = name
    settings.QUEUE_NAME = queue
    settings.DLQ_REPLAY_RATE = 0
    if name == "sqs":
        endpoint = request.getfixturevalue("moto_endpoint")
        settings.AWS_ENDPOINT_URL = endpoint
        settings.AWS_REGION = "us-east-1"
        # Configured by URL, as in production (moto's default account).
        settings.SQS_QUEUE_URL = f"{endpoint}/123456789012/{queue}"
        settings.SQS_DLQ_URL = f"{endpoint}/123456789012/{queue}-dlq"
        settings.SQS_WAIT_SECONDS = 0  # an empty queue answers at once
    elif name == "rabbitmq":
        settings.RABBITMQ_URL = request.getfixturevalue("rabbitmq_url")
        settings.RABBITMQ_EXCHANGE = f"x-{queue}"
    elif name == "azure":
        settings.AZURE_STORAGE_CONNECTION_STRING = request.getfixturevalue(
            "azurite"
        ).connection_string()
    elif name == "redis":
        url = settings.REDIS_URL = request.getfixturevalue("redis_url")
        prefix = settings.REDIS_KEY_PREFIX = f"t-redis-{uuid.uuid4().hex[:12]}"
        request.addfinalizer(lambda: redis_drop(url, f"{prefix}:"))
    reset_backends()


@pytest.fixture(params=BACKENDS)
def queue_backend(request, settings, db):
    """The backend under test, its queue and DLQ created and empty."""
    point_at(settings, request, request.param)
    backend = get_backend()
    backend.ensure()
    yield backend
    if backend.name == "rabbitmq":
        rabbitmq_drop(backend)
    reset_backends()


@pytest.fixture
def redis_queue(request, settings, db):
    """The Redis backend on the local server, under a key prefix of its own."""
    point_at(settings, request, "redis")
    backend = get_backend()
    backend.ensure()
    yield backend
    reset_backends()
