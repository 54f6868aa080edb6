"""Bad settings stop start-up with ImproperlyConfigured naming the variable.

Each case starts Django in a fresh interpreter: settings are read once, at import.
"""

import subprocess
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_choice, env_float, env_int, env_list, env_str
from tests import processes

ROOT = Path(__file__).resolve().parent.parent
CONTRACT = [
    "DATABASE_URL",
    "QUEUE_BACKEND",
    "QUEUE_NAME",
    "DEFAULT_CHANNEL",
    "MAX_MESSAGE_RETRY_COUNT",
    "MESSAGE_RETRY_AFTER_HOURS",
    "MESSAGE_RETRY_INTERVAL_HOURS",
    "RETRY_BACKOFF",
    "RETRY_CYCLE_LIMIT",
    "QUEUE_MAX_RECEIVES",
    "AZURE_TABLES_MIRROR",
    "AZURE_TABLES_CONNECTION_STRING",
    "AZURE_STORAGE_CONNECTION_STRING",
    "SIMULATED_TRANSIENT_RATE",
    "SIMULATED_PERMANENT_RATE",
    "REDIS_URL",
    "REDIS_KEY_PREFIX",
    "WEBHOOK_URL",
    "RABBITMQ_URL",
    "SENDER_POLL_SECONDS",
    "WEBHOOK_TIMEOUT_SECONDS",
    "DJANGO_ALLOWED_HOSTS",
    "SQS_QUEUE_URL",
    "SQS_DLQ_URL",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_COOLOFF_MINUTES",
]


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("settings-var")


def start_django(var_dir: Path, code: str = "", **env: str) -> subprocess.CompletedProcess:
    return processes.start_django(var_dir, code, clear=CONTRACT, **env)


def _error_line(stderr: str) -> str:
    """The exception line that ends the traceback (not the source lines above it,
    which quote variable names whatever the message says)."""
    return [line for line in stderr.splitlines() if line.strip()][-1]


@pytest.mark.parametrize(
    "env",
    [
        {"QUEUE_BACKEND": "nosuch"},
        {"DEFAULT_CHANNEL": "carrier-pigeon"},
        {"MAX_MESSAGE_RETRY_COUNT": "-1"},
        {"MAX_MESSAGE_RETRY_COUNT": "three"},
        {"AZURE_TABLES_MIRROR": "yes-please"},
        {"RETRY_BACKOFF": "linear"},
        {"SIMULATED_TRANSIENT_RATE": "0.8", "SIMULATED_PERMANENT_RATE": "0.5"},
        {"DATABASE_URL": "nonsense://x"},
        {"DATABASE_URL": "nonsense://user:s3cret@db.example.com/retry"},
        {"DATABASE_URL": "nonsense"},
        {"QUEUE_MAX_RECEIVES": "0"},
        {"MESSAGE_RETRY_AFTER_HOURS": "nan"},
        {"MESSAGE_RETRY_AFTER_HOURS": "inf"},
        {"MESSAGE_RETRY_AFTER_HOURS": "-inf"},
        {"MESSAGE_RETRY_AFTER_HOURS": "100000"},
        {"MESSAGE_RETRY_INTERVAL_HOURS": "Infinity"},
        {"SENDER_POLL_SECONDS": "nan"},
        {"SENDER_POLL_SECONDS": "86400000"},
        {"WEBHOOK_TIMEOUT_SECONDS": "inf"},
        {"SIMULATED_TRANSIENT_RATE": "NaN"},
        {"WEBHOOK_URL": "example.com/hook"},
        {"WEBHOOK_URL": "ftp://example.com/hook"},
        {"WEBHOOK_URL": "https://"},
        {"WEBHOOK_URL": "https://example.com:99999/hook"},
        {"WEBHOOK_URL": "http://exa mple.com/hook"},
        {"DJANGO_ALLOWED_HOSTS": ","},
        {"DJANGO_ALLOWED_HOSTS": "https://console.example.com"},
        {"DJANGO_ALLOWED_HOSTS": "console.example.com/admin"},
        {"REDIS_URL": "garbage"},
        {"REDIS_URL": "http://127.0.0.1:6379"},
        {"REDIS_URL": "redis://127.0.0.1:port/0"},
        {"REDIS_URL": "redis://127.0.0.1:6379/db0"},
        {"REDIS_URL": "unix://"},
        {"REDIS_KEY_PREFIX": "two words"},
        {"REDIS_KEY_PREFIX": "x" * 65},
        {"RABBITMQ_URL": "rabbit"},
        {"LOGIN_FAILURE_LIMIT": "0"},
        {"LOGIN_COOLOFF_MINUTES": "soon"},
        {"DLQ_AUTO_REPLAY": "sometimes"},
        {"DLQ_AUTO_REPLAY_INTERVAL_MINUTES": "0"},
        {"DLQ_AUTO_REPLAY_BACKOFF_MINUTES": "-1"},
        {"DLQ_AUTO_REPLAY_BACKOFF_MINUTES": "nan"},
        {"DLQ_AUTO_REPLAY_MAX_ATTEMPTS": "21"},
        {"ALERT_EMAIL_TO": "not-an-address"},
        {"ALERT_WEBHOOK_URL": "hooks.example.com/alerts"},
        {"ALERT_DLQ_DEPTH": "0"},
        {"ALERT_RETRY_SUCCESS_RATE": "150"},
        {"ALERT_SENDER_SILENT_MINUTES": "inf"},
        {"ALERT_CYCLE_OVERDUE_MINUTES": "-5"},
        {"EMAIL_URL": "ftp://mail.example.com"},
    ],
    ids=lambda env: " ".join(f"{k}={v}" for k, v in env.items()),
)
def test_a_bad_setting_stops_start_up_naming_the_variable(var_dir, env):
    result = start_django(var_dir, **env)
    assert result.returncode != 0
    line = _error_line(result.stderr)
    assert line.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    for name in env:
        assert name in line
    if "DATABASE_URL" in env:
        assert "s3cret" not in result.stderr  # a URL may hold a password: never echo it
    elif len(env) == 1:
        [value] = env.values()
        assert value in line  # and says what was wrong


def test_an_empty_allowed_hosts_stops_start_up(var_dir):
    # Blank means "unset" for every other variable; here it is nearly always an
    # unset shell variable, and every request would then answer 400.
    result = start_django(var_dir, DJANGO_ALLOWED_HOSTS="")
    assert result.returncode != 0
    line = _error_line(result.stderr)
    assert line.startswith("django.core.exceptions.ImproperlyConfigured: DJANGO_ALLOWED_HOSTS")


def test_a_url_setting_never_echoes_its_password(var_dir):
    result = start_django(var_dir, REDIS_URL="redis://:s3cret@127.0.0.1:port/0")
    assert result.returncode != 0
    line = _error_line(result.stderr)
    assert line.startswith("django.core.exceptions.ImproperlyConfigured: REDIS_URL")
    assert "s3cret" not in result.stderr


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"QUEUE_BACKEND": "sqs"}, "SQS_QUEUE_URL"),
        ({"QUEUE_BACKEND": "sqs", "SQS_QUEUE_URL": "batch-messages"}, "SQS_QUEUE_URL"),
        (
            {"QUEUE_BACKEND": "sqs", "AWS_REGION": "eu-west-1", "SQS_DLQ_URL": "dlq"},
            "SQS_DLQ_URL",
        ),
        ({"QUEUE_BACKEND": "sqs", "AWS_ENDPOINT_URL": "localhost:5000"}, "AWS_ENDPOINT_URL"),
        ({"QUEUE_BACKEND": "azure"}, "AZURE_STORAGE_CONNECTION_STRING"),
        (
            {"QUEUE_BACKEND": "azure", "AZURE_STORAGE_CONNECTION_STRING": "not a connection"},
            "AZURE_STORAGE_CONNECTION_STRING",
        ),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_queue_backend_that_cannot_find_its_queue_stops_start_up(var_dir, env, named):
    result = start_django(var_dir, **env)
    assert result.returncode != 0
    line = _error_line(result.stderr)
    assert line.startswith("django.core.exceptions.ImproperlyConfigured: "), result.stderr
    assert named in line


@pytest.mark.parametrize(
    "env",
    [
        {"QUEUE_BACKEND": "sqs", "AWS_REGION": "eu-west-1"},
        {"QUEUE_BACKEND": "sqs", "AWS_DEFAULT_REGION": "eu-west-1"},
        {"QUEUE_BACKEND": "sqs", "AWS_ENDPOINT_URL": "http://127.0.0.1:5000"},
        {
            "QUEUE_BACKEND": "sqs",
            "SQS_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/batch-messages",
        },
        {"QUEUE_BACKEND": "azure", "AZURE_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"},
        {
            "QUEUE_BACKEND": "azure",
            "AZURE_STORAGE_CONNECTION_STRING": (
                "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
                "EndpointSuffix=core.windows.net"
            ),
        },
        {
            "WEBHOOK_URL": "https://hooks.example.com:8443/deliver?x=1",
            "REDIS_URL": "rediss://:pw@cache.example.com:6380/2",
            "RABBITMQ_URL": "amqp://guest:guest@127.0.0.1:5672/%2f",
            "DJANGO_ALLOWED_HOSTS": "console.example.com, .example.org,127.0.0.1,[::1],*",
            "MESSAGE_RETRY_AFTER_HOURS": "0.5",
            "SENDER_POLL_SECONDS": "0.1",
        },
        {"REDIS_URL": "unix:///run/redis/redis.sock?db=1"},
        {"QUEUE_BACKEND": "redis", "REDIS_KEY_PREFIX": "acme.prod:retry-admin"},
    ],
    ids=lambda env: " ".join(f"{k}={v}"[:40] for k, v in env.items()),
)
def test_good_queue_and_url_settings_start_fine(var_dir, env):
    result = start_django(var_dir, **env)
    assert result.returncode == 0, result.stderr


def test_good_settings_start_fine(var_dir):
    code = (
        "from django.conf import settings as s\n"
        "print(s.MAX_MESSAGE_RETRY_COUNT, s.AZURE_TABLES_MIRROR, s.RETRY_BACKOFF,"
        " s.QUEUE_MAX_RECEIVES, s.DEFAULT_CHANNEL, s.DATABASES['default']['ENGINE'])"
    )
    result = start_django(
        var_dir,
        code,
        MAX_MESSAGE_RETRY_COUNT="5",
        AZURE_TABLES_MIRROR="no",
        RETRY_BACKOFF="exponential",
        QUEUE_MAX_RECEIVES="1",
        DEFAULT_CHANNEL="webhook",
        SIMULATED_TRANSIENT_RATE="0.5",
        SIMULATED_PERMANENT_RATE="0.5",
        DATABASE_URL="postgres://user:pw@db.example.com:5432/retry",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "5",
        "False",
        "exponential",
        "1",
        "webhook",
        "django.db.backends.postgresql",
    ]


def test_defaults_start_fine(var_dir):
    code = "from django.conf import settings as s\nprint(s.QUEUE_BACKEND, s.DEFAULT_CHANNEL)"
    result = start_django(var_dir, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db", "log"]


# config/env.py


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        (" On ", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_env_bool_accepts_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_FLAG", raw)
    assert env_bool("X_FLAG", not expected) is expected


@pytest.mark.parametrize("raw", ["yes-please", "2", "y", "enabled"])
def test_env_bool_refuses_anything_else(monkeypatch, raw):
    monkeypatch.setenv("X_FLAG", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^X_FLAG must be true or false"):
        env_bool("X_FLAG", False)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_an_unset_or_blank_variable_is_the_default(monkeypatch, raw):
    if raw is None:
        monkeypatch.delenv("X_ANY", raising=False)
    else:
        monkeypatch.setenv("X_ANY", raw)
    assert env_bool("X_ANY", True) is True
    assert env_int("X_ANY", 7, minimum=10) == 7  # a default is not range-checked
    assert env_float("X_ANY", 1.5) == 1.5
    assert env_str("X_ANY", "dflt") == "dflt"
    assert env_list("X_ANY", ["a"]) == ["a"]
    assert env_choice("X_ANY", "db", ["db", "sqs"]) == "db"


def test_env_int_reads_whole_numbers_within_range(monkeypatch):
    for raw, expected in [("0", 0), ("3", 3), (" 100 ", 100), ("-1", -1)]:
        monkeypatch.setenv("X_INT", raw)
        assert env_int("X_INT", 9) == expected
    monkeypatch.setenv("X_INT", "1")
    assert env_int("X_INT", 9, minimum=1, maximum=1) == 1  # bounds are inclusive


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("-1", "X_INT must be at least 0, not -1"),
        ("101", "X_INT must be at most 100, not 101"),
        ("three", "X_INT must be a whole number, not 'three'"),
        ("2.5", "X_INT must be a whole number, not '2.5'"),
    ],
)
def test_env_int_refuses_out_of_range_or_malformed(monkeypatch, raw, message):
    monkeypatch.setenv("X_INT", raw)
    with pytest.raises(ImproperlyConfigured) as info:
        env_int("X_INT", 3, minimum=0, maximum=100)
    assert str(info.value) == message


def test_env_float_reads_and_checks_its_range(monkeypatch):
    monkeypatch.setenv("X_RATE", "0.25")
    assert env_float("X_RATE", 0, minimum=0, maximum=1) == 0.25
    monkeypatch.setenv("X_RATE", "1.5")
    with pytest.raises(ImproperlyConfigured, match=r"^X_RATE must be at most 1"):
        env_float("X_RATE", 0, minimum=0, maximum=1)
    monkeypatch.setenv("X_RATE", "lots")
    with pytest.raises(ImproperlyConfigured, match=r"^X_RATE must be a number, not 'lots'"):
        env_float("X_RATE", 0)


@pytest.mark.parametrize("raw", ["nan", "NaN", "inf", "-inf", "Infinity"])
def test_env_float_refuses_nan_and_infinity(monkeypatch, raw):
    monkeypatch.setenv("X_HOURS", raw)
    with pytest.raises(ImproperlyConfigured, match=r"^X_HOURS must be a finite number"):
        env_float("X_HOURS", 2)


def test_env_choice_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("X_BACKEND", "sqs")
    assert env_choice("X_BACKEND", "db", ["db", "sqs"]) == "sqs"
    monkeypatch.setenv("X_BACKEND", "kafka")
    with pytest.raises(ImproperlyConfigured) as info:
        env_choice("X_BACKEND", "db", ["sqs", "db"])
    assert str(info.value) == "X_BACKEND must be one of db, sqs, not 'kafka'"


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("X_HOSTS", " a.example.com, b.example.com ,,")
    assert env_list("X_HOSTS", []) == ["a.example.com", "b.example.com"]
