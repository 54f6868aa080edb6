"""What the tests need from the machine (a service, an emulator, the browser,
axe-core): when it is missing, the test fails under CI=true and is skipped
elsewhere, saying what is missing and how to get it. ``in_ci`` is the one
place that reads CI."""

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def unavailable(missing: str, *, get_it: str) -> NoReturn:
    """Fail (CI=true) or skip (elsewhere) the test: ``missing`` says what is
    not there, ``get_it`` how to get it (a command, a make target)."""
    reason = f"{missing}; to get it: {get_it}"
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing requirement fails the run)", pytrace=False)
    pytest.skip(reason)


# What ``unavailable`` ends a test with; its own tests catch both, then check which.
ENDED = (pytest.fail.Exception, pytest.skip.Exception)
FAILED, SKIPPED = ENDED
