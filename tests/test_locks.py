from datetime import timedelta

import pytest
from django.utils import timezone

from retry_admin.locks import held_lock, lock_acquire, lock_release, lock_renew
from retry_admin.models import ProcessLock

pytestmark = pytest.mark.django_db


def _expire(name: str) -> None:
    ProcessLock.objects.filter(name=name).update(expires_at=timezone.now() - timedelta(seconds=1))


def test_it_gives_a_token_to_the_first_taker():
    token = lock_acquire("job", ttl_seconds=60)
    assert token
    lock = ProcessLock.objects.get(name="job")
    assert lock.token == token
    assert lock.expires_at > timezone.now() + timedelta(seconds=50)


def test_it_returns_none_while_the_lock_is_held():
    first = lock_acquire("job", ttl_seconds=60)
    assert lock_acquire("job", ttl_seconds=60) is None
    assert ProcessLock.objects.get(name="job").token == first


def test_different_names_do_not_block_each_other():
    assert lock_acquire("job-a", ttl_seconds=60)
    assert lock_acquire("job-b", ttl_seconds=60)


def test_an_expired_lock_is_taken_over():
    old = lock_acquire("job", ttl_seconds=60)
    _expire("job")
    new = lock_acquire("job", ttl_seconds=60)
    assert new and new != old
    assert ProcessLock.objects.get(name="job").token == new
    assert ProcessLock.objects.count() == 1


def test_the_old_holder_cannot_release_a_taken_over_lock():
    old = lock_acquire("job", ttl_seconds=60)
    _expire("job")
    new = lock_acquire("job", ttl_seconds=60)
    lock_release("job", old)
    assert ProcessLock.objects.get(name="job").token == new
    assert lock_acquire("job", ttl_seconds=60) is None


def test_release_with_the_right_token_frees_the_lock():
    token = lock_acquire("job", ttl_seconds=60)
    lock_release("job", "not-the-token")
    assert lock_acquire("job", ttl_seconds=60) is None
    lock_release("job", token)
    assert not ProcessLock.objects.exists()
    assert lock_acquire("job", ttl_seconds=60)


def test_renew_extends_only_for_the_holder():
    token = lock_acquire("job", ttl_seconds=1)
    assert lock_renew("job", "not-the-token", ttl_seconds=600) is False
    assert lock_renew("job", token, ttl_seconds=600) is True
    assert ProcessLock.objects.get().expires_at > timezone.now() + timedelta(seconds=500)


def test_held_lock_holds_and_releases():
    with held_lock("job", ttl_seconds=60) as token:
        assert token
        assert ProcessLock.objects.get(name="job").token == token
        with held_lock("job", ttl_seconds=60) as second:
            assert second is None
        assert ProcessLock.objects.filter(name="job").exists()  # the busy one freed nothing
    assert not ProcessLock.objects.exists()


def test_held_lock_releases_on_error():
    with pytest.raises(RuntimeError), held_lock("job", ttl_seconds=60):
        raise RuntimeError("job failed")
    assert lock_acquire("job", ttl_seconds=60)


def test_held_lock_leaves_a_lock_it_did_not_get_alone():
    token = lock_acquire("job", ttl_seconds=60)
    with held_lock("job", ttl_seconds=60) as busy:
        assert busy is None
    assert ProcessLock.objects.get(name="job").token == token
