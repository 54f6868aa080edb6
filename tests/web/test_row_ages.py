"""The tables' age column (``age_maker``) writes what ``|timesince`` writes,
for every span and unit, from one table's cache of translated units."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.template.defaultfilters import timesince_filter
from django.utils import timezone, translation

from retry_admin.templatetags.rows import age_maker

NOW = timezone.now()
SPANS = [
    timedelta(0),
    timedelta(seconds=59),
    timedelta(minutes=1),
    timedelta(minutes=2, seconds=30),
    timedelta(hours=1),
    timedelta(hours=5, minutes=1),
    timedelta(days=1),
    timedelta(days=2, hours=3),
    timedelta(weeks=1),
    timedelta(weeks=3, days=6),
    timedelta(days=31),
    timedelta(days=45),
    timedelta(days=365),
    timedelta(days=800),
    -timedelta(hours=2),  # in the future
]


def test_the_age_column_writes_what_timesince_writes():
    age = age_maker()  # one table: the cached units are reused from row to row
    moments = [NOW - span for span in SPANS] * 2

    assert [age(moment) for moment in moments] == [timesince_filter(m) for m in moments]


@pytest.mark.parametrize("value", [None, "", date(2026, 1, 2), datetime(2026, 1, 2, 3, 4)])
def test_dates_naive_times_and_nothing_are_written_as_timesince_writes_them(value):
    assert age_maker()(value) == timesince_filter(value)


def test_each_table_translates_in_the_language_active_for_it():
    moment = datetime(2020, 1, 1, tzinfo=UTC)
    with translation.override("de"):
        german = age_maker()(moment)
        assert german == timesince_filter(moment)

    assert age_maker()(moment) == timesince_filter(moment) != german
