import pytest

from tests.api.conftest import bearer
from tests.processes import RecordingReceiver


@pytest.fixture
def receiver():
    server = RecordingReceiver()
    yield server
    server.close()


@pytest.fixture
def as_super(super_admin):
    return bearer(super_admin)
