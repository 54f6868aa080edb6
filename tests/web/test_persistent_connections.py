"""The web server keeps its database connections between requests
(``DATABASE_CONN_MAX_AGE_SECONDS``): a new connection for every request
cost each page a connect, SQLite's schema read and a cold page cache (about
2 ms of a 5-10 ms page at a million logs, bench/http_load.py). A connection
is checked before a request reuses it, so one the database dropped is
replaced, not failed on."""

from django.core.handlers.wsgi import WSGIHandler
from django.db import connection

from tests.processes import start_django

READ = (
    "from django.conf import settings as s\n"
    "d = s.DATABASES['default']\n"
    "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
)


def test_it_keeps_connections_ten_minutes_and_checks_them_before_reuse(tmp_path):
    result = start_django(tmp_path, READ, clear=["DATABASE_CONN_MAX_AGE_SECONDS"])

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["600", "True"]


def test_zero_closes_each_connection_after_its_request(tmp_path):
    result = start_django(tmp_path, READ, DATABASE_CONN_MAX_AGE_SECONDS="0")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["0", "True"]


def test_a_malformed_value_stops_start_up_naming_the_variable(tmp_path):
    result = start_django(tmp_path, READ, DATABASE_CONN_MAX_AGE_SECONDS="forever")

    assert result.returncode != 0
    assert "DATABASE_CONN_MAX_AGE_SECONDS" in result.stderr


def test_a_request_leaves_its_connection_open_for_the_next(transactional_db):
    # What the server does at the end of a request (the test client skips it).
    from django.core.signals import request_finished

    connection.ensure_connection()
    opened = connection.connection
    request_finished.send(sender=WSGIHandler)

    assert connection.connection is opened
