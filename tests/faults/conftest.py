import pytest

from tests.api.conftest import bearer
from tests.processes import RecordingReceiver, Workers


@pytest.fixture
def workers(tmp_path):
    pool = Workers(tmp_path, env={"SENDER_POLL_SECONDS": "0.1"})
    yield pool
    pool.stop_all()


@pytest.fixture
def receiver():
    server = RecordingReceiver()
    yield server
    server.close()


@pytest.fixture
def as_super(super_admin):
    return bearer(super_admin)
