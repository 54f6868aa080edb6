"""The browser tests' set-up: under CI a missing browser or axe-core is a
failure; elsewhere the tests skip, saying how to get it."""

from pathlib import Path

import pytest

from tests.requirements import ENDED, FAILED, SKIPPED
from tests.web import a11y
from tests.web.conftest import require_browser

MISSING_AXE = a11y.ROOT / ".tools" / "axe-core-0.0.0-missing" / "axe.min.js"


def test_a_missing_browser_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")

    with pytest.raises(ENDED, match=r"/nonexistent/chromium is missing.*CI=true") as ended:
        require_browser("/nonexistent/chromium")

    assert ended.type is FAILED


def test_a_missing_browser_skips_elsewhere_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)

    with pytest.raises(ENDED, match=r"to get it: `bash scripts/browser\.sh`") as ended:
        require_browser("/nonexistent/chromium")

    assert ended.type is SKIPPED


def test_a_missing_axe_core_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(a11y, "AXE", MISSING_AXE)

    with pytest.raises(ENDED, match=r"axe-core .* is missing.*CI=true") as ended:
        a11y.axe_source()

    assert ended.type is FAILED


def test_a_missing_axe_core_skips_elsewhere_with_the_reason(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(a11y, "AXE", MISSING_AXE)

    with pytest.raises(ENDED, match=r"to get it: `bash scripts/browser\.sh`") as ended:
        a11y.axe_source()

    assert ended.type is SKIPPED


def test_the_make_target_installs_the_browser_first():
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    recipe = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]

    assert recipe.index("bash scripts/browser.sh") < recipe.index("pytest")
