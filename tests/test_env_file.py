"""Settings from a .env file, as the design's deployment writes them; the
real environment wins (issue 13 item 3). Each case starts Django afresh."""

from tests import processes

READ = (
    "from django.conf import settings as s\n"
    "print(s.MAX_MESSAGE_RETRY_COUNT, s.MESSAGE_RETRY_AFTER_HOURS, s.RETRY_CYCLE_LIMIT,"
    " s.QUEUE_NAME, s.ENV_FILE)"
)
# What the design says to add to .env, comments and all.
SEED_ENV = """\
# Message Retry Configuration
MAX_MESSAGE_RETRY_COUNT=5          # Maximum retry attempts per message
MESSAGE_RETRY_AFTER_HOURS=4        # Hours to wait before retrying failed messages
export QUEUE_NAME="campaign messages"
"""
CLEAR = ["MAX_MESSAGE_RETRY_COUNT", "MESSAGE_RETRY_AFTER_HOURS", "RETRY_CYCLE_LIMIT", "QUEUE_NAME"]


def start(tmp_path, code: str = READ, **env: str):
    return processes.start_django(
        tmp_path / "var", code, clear=[*CLEAR, "RETRY_ADMIN_ENV_FILE"], **env
    )


def test_it_reads_the_design_s_env_file(tmp_path):
    env_file = tmp_path / "retry.env"
    env_file.write_text(SEED_ENV)

    result = start(tmp_path, RETRY_ADMIN_ENV_FILE=str(env_file))

    assert result.returncode == 0, result.stderr
    *values, path = result.stdout.rsplit(maxsplit=1)
    assert values == ["5 4.0 100 campaign messages"]
    assert path == str(env_file)


def test_the_real_environment_wins_over_the_file(tmp_path):
    env_file = tmp_path / "retry.env"
    env_file.write_text(SEED_ENV + "RETRY_CYCLE_LIMIT=7\n")

    result = start(
        tmp_path, RETRY_ADMIN_ENV_FILE=str(env_file), MAX_MESSAGE_RETRY_COUNT="2", QUEUE_NAME="q"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:4] == ["2", "4.0", "7", "q"]


def test_a_bad_value_in_the_file_stops_start_up_naming_the_variable(tmp_path):
    env_file = tmp_path / "retry.env"
    env_file.write_text("MAX_MESSAGE_RETRY_COUNT=three\n")

    result = start(tmp_path, RETRY_ADMIN_ENV_FILE=str(env_file))

    assert result.returncode != 0
    assert "MAX_MESSAGE_RETRY_COUNT must be a whole number" in result.stderr


def test_a_named_file_that_is_missing_stops_start_up(tmp_path):
    result = start(tmp_path, RETRY_ADMIN_ENV_FILE=str(tmp_path / "nowhere.env"))

    assert result.returncode != 0
    assert "RETRY_ADMIN_ENV_FILE names" in result.stderr
    assert "no such file" in result.stderr


def test_a_line_that_does_not_parse_stops_start_up_naming_the_line(tmp_path):
    env_file = tmp_path / "retry.env"
    env_file.write_text('QUEUE_NAME=fine\nthis is not a setting\nWEBHOOK_URL="unclosed\n')

    result = start(tmp_path, RETRY_ADMIN_ENV_FILE=str(env_file))

    assert result.returncode != 0
    assert "lines that do not parse: 2, 3" in result.stderr


def test_without_a_file_the_defaults_hold(tmp_path):
    result = start(tmp_path, RETRY_ADMIN_ENV_FILE="")

    assert result.returncode == 0, result.stderr
    values = result.stdout.split()
    assert values[:4] == ["3", "2", "100", "batch-messages"]


def test_the_design_s_defaults(tmp_path):
    """000: retry every 6 h, at most 3 retries, 2 h after the last update, 100
    per cycle; 002: queue batch-messages, polled every 5 s."""
    code = (
        "from django.conf import settings as s\n"
        "print(s.MESSAGE_RETRY_INTERVAL_HOURS, s.MAX_MESSAGE_RETRY_COUNT,"
        " s.MESSAGE_RETRY_AFTER_HOURS, s.RETRY_CYCLE_LIMIT, s.QUEUE_NAME, s.SENDER_POLL_SECONDS)"
    )
    result = processes.start_django(
        tmp_path / "var",
        code,
        clear=[
            *CLEAR,
            "RETRY_ADMIN_ENV_FILE",
            "MESSAGE_RETRY_INTERVAL_HOURS",
            "SENDER_POLL_SECONDS",
        ],
        RETRY_ADMIN_ENV_FILE="",
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "3", "2", "100", "batch-messages", "5"]
