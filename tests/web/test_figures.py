"""The overview's shared figures: computed once per interval, refreshed in the
background while the last ones are served, inline only when too old."""

import time

from retry_admin.web.figures import KeyedFigures, SharedFigures


def _figures(settings, fresh_for: float):
    settings.TEST_FIGURES_FRESH = fresh_for
    calls = []

    def compute():
        calls.append(time.monotonic())
        return len(calls)

    return SharedFigures(compute, fresh_setting="TEST_FIGURES_FRESH"), calls


def _wait_for(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_fresh_figures_are_shared(settings):
    figures, calls = _figures(settings, fresh_for=60)

    assert [figures.get() for _ in range(5)] == [1] * 5
    assert len(calls) == 1


def test_old_figures_are_served_while_new_ones_are_computed_in_the_background(settings):
    figures, calls = _figures(settings, fresh_for=0.05)
    assert figures.get() == 1
    time.sleep(0.06)

    served = figures.get()  # stale: served at once, refresh started

    assert served == 1
    _wait_for(lambda: figures.get() == 2)
    assert len(calls) == 2


def test_figures_too_old_to_serve_are_computed_inline(settings):
    figures, calls = _figures(settings, fresh_for=0.01)
    figures.get()
    time.sleep(16 * 0.01)  # past serve_stale_for (15 x fresh_for)

    assert figures.get() == 2
    assert len(calls) == 2


def test_zero_means_every_request_computes(settings):
    figures, _ = _figures(settings, fresh_for=0)

    assert [figures.get() for _ in range(3)] == [1, 2, 3]


def test_figures_that_take_long_to_compute_are_recomputed_less_often(settings):
    # Counting a million logs on a busy machine can take most of a second:
    # recomputing it every 2 s would keep a core busy while anyone watches.
    settings.TEST_FIGURES_FRESH = 0.001
    calls = []

    def slow():
        calls.append(time.monotonic())
        time.sleep(0.05)
        return len(calls)

    figures = SharedFigures(slow, fresh_setting="TEST_FIGURES_FRESH")
    assert figures.get() == 1
    time.sleep(0.02)  # far past the setting, well within 10 x the cost

    assert figures.get() == 1
    assert len(calls) == 1
    assert figures.fresh_for >= 10 * 0.05


# Keyed: the batch list's progress and the failure groups of a tab.


def _keyed(settings, fresh_for: float, max_keys: int = 32):
    settings.TEST_FIGURES_FRESH = fresh_for
    calls = []

    def compute(key):
        calls.append(key)
        return f"{key}:{calls.count(key)}"

    figures = KeyedFigures(compute, fresh_setting="TEST_FIGURES_FRESH", max_keys=max_keys)
    return figures, calls


def test_each_key_has_its_own_shared_figures(settings):
    figures, calls = _keyed(settings, fresh_for=60)

    assert [figures.get("failed") for _ in range(3)] == ["failed:1"] * 3
    assert figures.get((1, 2)) == "(1, 2):1"
    assert figures.get("failed") == "failed:1"
    assert calls == ["failed", (1, 2)]


def test_keyed_figures_keep_the_keys_asked_for_last(settings):
    figures, calls = _keyed(settings, fresh_for=60, max_keys=2)
    figures.get("a")
    figures.get("b")
    figures.get("a")  # "b" is now the least recently asked for

    figures.get("c")

    assert figures.get("a") == "a:1"
    assert figures.get("b") == "b:2"  # forgotten, so computed again
    assert calls == ["a", "b", "c", "b"]


def test_keyed_figures_at_zero_compute_every_time(settings):
    figures, _ = _keyed(settings, fresh_for=0)

    assert [figures.get("x") for _ in range(3)] == ["x:1", "x:2", "x:3"]
