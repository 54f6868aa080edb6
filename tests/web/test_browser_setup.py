"""The browser tests' set-up: under CI a missing browser is a failure."""

import pytest

from tests.web.conftest import require_browser


def test_a_missing_browser_fails_under_ci():
    with pytest.raises(pytest.fail.Exception, match="CI=true: browser tests must run"):
        require_browser("/nonexistent/chromium", ci=True)


def test_a_missing_browser_skips_elsewhere_with_the_reason():
    with pytest.raises(pytest.skip.Exception, match=r"scripts/browser\.sh"):
        require_browser("/nonexistent/chromium", ci=False)


def test_the_make_target_installs_the_browser_first():
    from pathlib import Path

    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]

    assert recipe.index("bash scripts/browser.sh") < recipe.index("pytest")
