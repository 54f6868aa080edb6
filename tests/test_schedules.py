"""The schedules setup_retry_admin creates: the Table Storage mirror's only
while AZURE_TABLES_MIRROR is on, and the intervals as people say them."""

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from retry_admin.schedules import every

pytestmark = pytest.mark.django_db


def test_it_creates_no_mirror_schedule_while_the_mirror_is_off(settings):
    settings.AZURE_TABLES_MIRROR = False
    call_command("setup_retry_admin", verbosity=0)
    assert not Schedule.objects.filter(name="table-mirror").exists()
    assert Schedule.objects.filter(name="retry-cycle").exists()


def test_it_removes_the_mirror_schedule_when_the_mirror_is_turned_off(settings):
    settings.AZURE_TABLES_MIRROR = True
    call_command("setup_retry_admin", verbosity=0)
    assert Schedule.objects.get(name="table-mirror").minutes == 1
    settings.AZURE_TABLES_MIRROR = False
    call_command("setup_retry_admin", verbosity=0)
    assert not Schedule.objects.filter(name="table-mirror").exists()


@pytest.mark.parametrize(
    "minutes, said",
    [
        (1, "every minute"),
        (5, "every 5 min"),
        (90, "every 90 min"),
        (60, "hourly"),
        (120, "every 2 h"),
        (360, "every 6 h"),
        (1440, "daily"),
        (2880, "every 2 days"),
    ],
)
def test_it_says_intervals_as_people_do(minutes, said):
    assert every(minutes) == said
