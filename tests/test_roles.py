import pytest
from django.contrib.auth.models import AnonymousUser, Group

from retry_admin.roles import SUPER_ADMIN, SYSTEM_ADMIN, can_act, can_purge, can_view, ensure_groups

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", password="pw-root")


@pytest.fixture
def inactive_super_admin(django_user_model):
    ensure_groups()
    user = django_user_model.objects.create_user(
        "gone", password="pw-gone", is_staff=True, is_active=False
    )
    user.groups.add(Group.objects.get(name=SUPER_ADMIN))
    return user


@pytest.fixture
def plain_user(django_user_model):
    return django_user_model.objects.create_user("customer", password="pw-customer")


def _rights(user) -> tuple[bool, bool, bool]:
    return can_view(user), can_act(user), can_purge(user)


def test_a_superuser_counts_as_super_admin(superuser):
    assert not superuser.groups.exists()
    assert _rights(superuser) == (True, True, True)


def test_a_super_admin_may_do_everything(super_admin):
    assert _rights(super_admin) == (True, True, True)


def test_a_system_admin_may_act_but_not_purge(system_admin):
    assert _rights(system_admin) == (True, True, False)


def test_a_staff_viewer_only_views(viewer):
    assert _rights(viewer) == (True, False, False)


def test_a_role_holder_who_is_not_staff_may_still_view(django_user_model):
    ensure_groups()
    user = django_user_model.objects.create_user("operator", password="pw")
    user.groups.add(Group.objects.get(name=SYSTEM_ADMIN))
    assert _rights(user) == (True, True, False)


def test_a_signed_in_user_without_staff_or_role_sees_nothing(plain_user):
    assert _rights(plain_user) == (False, False, False)


def test_an_inactive_user_may_do_nothing(inactive_super_admin):
    assert _rights(inactive_super_admin) == (False, False, False)


def test_an_inactive_superuser_may_do_nothing(superuser):
    superuser.is_active = False
    superuser.save()
    assert _rights(superuser) == (False, False, False)


def test_anonymous_may_do_nothing():
    assert _rights(AnonymousUser()) == (False, False, False)


def test_groups_are_read_once_per_user_object(super_admin, django_assert_num_queries):
    with django_assert_num_queries(1):
        for _ in range(3):
            _rights(super_admin)


def test_ensure_groups_is_idempotent():
    assert ensure_groups() == [SUPER_ADMIN, SYSTEM_ADMIN]
    assert ensure_groups() == []
    assert Group.objects.filter(name__in=[SUPER_ADMIN, SYSTEM_ADMIN]).count() == 2


def test_ensure_groups_creates_only_what_is_missing():
    Group.objects.create(name=SUPER_ADMIN)
    assert ensure_groups() == [SYSTEM_ADMIN]
