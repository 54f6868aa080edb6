"""SQLite's write-ahead log is checkpointed every SQLITE_WAL_AUTOCHECKPOINT_PAGES
pages (SQLite's own default, 1,000 pages, made a long drain copy the same hot
pages into the database file again and again, and wait for each copy's fsync).

Each case starts Django in a fresh interpreter: settings are read once, at import.
"""

import pytest

from tests import processes

SHOW = (
    "from django.db import connection\n"
    "with connection.cursor() as cursor:\n"
    "    cursor.execute('PRAGMA wal_autocheckpoint')\n"
    "    print(cursor.fetchone()[0])\n"
)


@pytest.fixture(scope="module")
def var_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("wal-checkpoint-var")


def _start(var_dir, **env):
    env.setdefault("DATABASE_URL", f"sqlite:///{var_dir / 'wal.sqlite3'}")
    return processes.start_django(var_dir, SHOW, clear=["SQLITE_WAL_AUTOCHECKPOINT_PAGES"], **env)


def test_it_checkpoints_every_ten_thousand_pages_by_default(var_dir):
    done = _start(var_dir)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "10000"


def test_it_checkpoints_as_the_setting_says(var_dir):
    done = _start(var_dir, SQLITE_WAL_AUTOCHECKPOINT_PAGES="2500")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2500"


@pytest.mark.parametrize("value", ["0", "-1", "many", "100000000"])
def test_a_bad_value_stops_start_up_naming_the_variable(var_dir, value):
    done = _start(var_dir, SQLITE_WAL_AUTOCHECKPOINT_PAGES=value)
    assert done.returncode != 0
    last = [line for line in done.stderr.splitlines() if line.strip()][-1]
    assert "ImproperlyConfigured" in last
    assert "SQLITE_WAL_AUTOCHECKPOINT_PAGES" in last
