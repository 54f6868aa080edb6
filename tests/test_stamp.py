"""The console's ``stamp`` filter writes what Django's date format
``Y-m-d H:i:s T`` writes, in every time zone and on both sides of a clock
change (it skips the general formatter for speed), except in the hour a
clock change repeats, where that format leaves the zone out and ``stamp``
says which of the two it is."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.dateformat import format as date_format

from retry_admin.templatetags.console import STAMP_FORMAT, stamp

MOMENTS = [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # London: the last second of GMT
    datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),  # ... the first of BST
    datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),  # a year of three digits
    datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=ZoneInfo("Asia/Kolkata")),
    datetime(2026, 7, 1, 12, 0, tzinfo=timezone.get_fixed_timezone(timedelta(hours=-3))),
]


@pytest.mark.parametrize("zone", ["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"])
@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_stamp_writes_what_the_date_format_writes(settings, zone, moment):
    settings.TIME_ZONE = zone
    expected = date_format(timezone.localtime(moment), STAMP_FORMAT)

    assert stamp(moment) == expected


def test_naive_and_missing_moments(settings):
    settings.TIME_ZONE = "Europe/London"
    naive = datetime(2026, 6, 1, 12, 0)

    assert stamp(naive) == date_format(naive, STAMP_FORMAT)
    assert stamp(None) == ""


def test_the_repeated_hour_says_which_zone(settings):
    # Django's "T" writes nothing for a wall-clock time that happens twice;
    # every time on the console says its zone (tests/web/test_times.py).
    settings.TIME_ZONE = "Europe/London"

    assert stamp(datetime(2026, 10, 25, 0, 30, tzinfo=UTC)) == "2026-10-25 01:30:00 BST"
    assert stamp(datetime(2026, 10, 25, 1, 30, tzinfo=UTC)) == "2026-10-25 01:30:00 GMT"
