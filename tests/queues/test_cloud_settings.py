"""The cloud transports' settings fail loudly at start-up, and the embedded
default never loads a cloud SDK. Each case starts Django in a fresh interpreter."""

import subprocess
from pathlib import Path

import pytest

from tests.processes import start_django

ROOT = Path(__file__).resolve().parent.parent.parent
OURS = {
    "QUEUE_BACKEND",
    "QUEUE_NAME",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_TABLES_CONNECTION_STRING",
    "AZURE_TABLES_MIRROR",
    "AZURE_TABLES_PREFIX",
    "AZURE_QUEUE_ENCODING",
    "SQS_WAIT_SECONDS",
    "DLQ_REPLAY_RATE",
    "MIRROR_SAFETY_LAG_SECONDS",
}


def start(tmp_path: Path, code: str = "", **env: str) -> subprocess.CompletedProcess:
    return start_django(tmp_path, code, clear=OURS, **env)


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUEUE_BACKEND": "azure"}, "AZURE_STORAGE_CONNECTION_STRING"),
        (
            {
                "QUEUE_BACKEND": "azure",
                "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
                "QUEUE_NAME": "Batch_Messages",
            },
            "QUEUE_NAME",
        ),
        ({"AZURE_TABLES_MIRROR": "true"}, "AZURE_TABLES_CONNECTION_STRING"),
        ({"AZURE_TABLES_PREFIX": "not-alnum"}, "AZURE_TABLES_PREFIX"),
        ({"AZURE_QUEUE_ENCODING": "rot13"}, "AZURE_QUEUE_ENCODING"),
        ({"SQS_WAIT_SECONDS": "30"}, "SQS_WAIT_SECONDS"),
        ({"DLQ_REPLAY_RATE": "-1"}, "DLQ_REPLAY_RATE"),
        ({"MIRROR_SAFETY_LAG_SECONDS": "soon"}, "MIRROR_SAFETY_LAG_SECONDS"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bad_cloud_setting_stops_start_up_naming_it(tmp_path, env, named):
    result = start(tmp_path, **env)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("django.core.exceptions.ImproperlyConfigured: ")
    assert named in last


def test_the_db_default_loads_no_cloud_sdk(tmp_path):
    code = (
        "import sys\n"
        "from retry_admin.queues import get_backend\n"
        "from retry_admin import tasks, selectors\n"
        "get_backend().describe()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('boto3', 'botocore', 'azure')))"
    )
    result = start(tmp_path, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "env",
    [
        {"QUEUE_BACKEND": "sqs", "AWS_REGION": "eu-west-1"},
        {"QUEUE_BACKEND": "azure", "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
        {
            "AZURE_TABLES_MIRROR": "true",
            "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true",
        },
    ],
)
def test_cloud_settings_start_without_reaching_the_cloud(tmp_path, env):
    result = start(tmp_path, "from retry_admin.queues import get_backend\nget_backend()", **env)
    assert result.returncode == 0, result.stderr
