"""A missing service, emulator, browser or tool fails the run under CI=true
and skips the test elsewhere, saying what is missing and how to get it."""

import pytest

from tests.emulators import free_port, redis_answering
from tests.requirements import ENDED, FAILED, SKIPPED, in_ci, unavailable


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), (" yes ", True), ("", False), ("false", False)],
)
def test_ci_is_read_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("CI", value)

    assert in_ci() is expected


def test_without_ci_in_the_environment_it_is_not_ci(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    assert not in_ci()


def test_a_missing_requirement_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(ENDED) as ended:
        unavailable("the widget server is missing", get_it="`make widgets`")

    assert ended.type is FAILED
    assert "the widget server is missing; to get it: `make widgets`" in str(ended.value)
    assert "CI=true" in str(ended.value)


def test_a_missing_requirement_skips_elsewhere_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(ENDED) as ended:
        unavailable("the widget server is missing", get_it="`make widgets`")

    assert ended.type is SKIPPED
    assert str(ended.value) == "the widget server is missing; to get it: `make widgets`"


def test_a_redis_that_does_not_answer_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there

    with pytest.raises(ENDED, match=r"does not answer.*scripts/services\.sh redis") as ended:
        redis_answering(url)

    assert ended.type is FAILED


def test_a_redis_that_does_not_answer_skips_elsewhere(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    url = f"redis://127.0.0.1:{free_port()}/0"

    with pytest.raises(ENDED, match=r"scripts/services\.sh redis") as ended:
        redis_answering(url)

    assert ended.type is SKIPPED
