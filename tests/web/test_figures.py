"""The overview's shared figures: computed once per interval, refreshed in the
background while the last ones are served, inline only when too old; shared
by the web server's worker processes through files under the var dir."""

import multiprocessing
import threading
import time

import pytest
from django.db import connection

from retry_admin.web.figures import Entry, KeyedFigures, SharedFigures, figure_store


@pytest.fixture(autouse=True)
def _own_var_dir(settings, tmp_path):
    """Each test's figures in a store of its own."""
    settings.VAR_DIR = tmp_path


def _figures(settings, fresh_for: float, name: str = "test"):
    settings.TEST_FIGURES_FRESH = fresh_for
    calls = []

    def compute():
        calls.append(time.monotonic())
        return len(calls)

    return SharedFigures(compute, name=name, fresh_setting="TEST_FIGURES_FRESH"), calls


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

    figures = SharedFigures(slow, name="slow", fresh_setting="TEST_FIGURES_FRESH")
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

    figures = KeyedFigures(
        compute, name="keyed", fresh_setting="TEST_FIGURES_FRESH", max_keys=max_keys
    )
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
    assert figures.get("b") == "b:1"  # forgotten here, read again from the store
    assert calls == ["a", "b", "c"]


def test_keyed_figures_at_zero_compute_every_time(settings):
    figures, _ = _keyed(settings, fresh_for=0)

    assert [figures.get("x") for _ in range(3)] == ["x:1", "x:2", "x:3"]


# Shared by the worker processes of the web server. Two instances with the
# same name stand for two processes: an flock conflicts between two opens of
# the file in one process as it does between two processes.


def test_a_figure_computed_by_one_process_is_served_by_the_others(settings):
    first, first_calls = _figures(settings, fresh_for=60, name="shared")
    second, second_calls = _figures(settings, fresh_for=60, name="shared")

    assert first.get() == 1
    assert [second.get() for _ in range(3)] == [1] * 3
    assert (len(first_calls), len(second_calls)) == (1, 0)


def _get_in_a_process_of_its_own(var_dir, results) -> None:
    from django.conf import settings

    settings.VAR_DIR = var_dir
    settings.TEST_FIGURES_FRESH = 60
    figures = SharedFigures(
        lambda: f"computed by {multiprocessing.current_process().name}",
        name="across",
        fresh_setting="TEST_FIGURES_FRESH",
    )
    results.put(figures.get())


def test_a_worker_process_reads_the_figure_another_computed(settings, tmp_path):
    mine, _ = _figures(settings, fresh_for=60, name="across")
    mine.compute = lambda: "computed by the first process"
    mine.get()
    fork = multiprocessing.get_context("fork")
    results = fork.Queue()

    child = fork.Process(target=_get_in_a_process_of_its_own, args=(tmp_path, results))
    child.start()
    child.join(30)

    assert child.exitcode == 0
    assert results.get(timeout=5) == "computed by the first process"


def test_stale_figures_another_process_is_refreshing_are_served_not_computed(settings):
    first, _ = _figures(settings, fresh_for=0.05, name="stale")
    second, second_calls = _figures(settings, fresh_for=0.05, name="stale")
    assert first.get() == 1
    time.sleep(0.06)
    store = figure_store()
    held = store.lock("stale", wait=False)  # the first process is refreshing it
    try:
        assert second.get() == 1  # stale: served, and no thread of its own computes
        time.sleep(0.05)
        assert second_calls == []
        store.write("stale", Entry("refreshed", time.time(), 0.0))
    finally:
        store.unlock(held)

    assert second.get() == "refreshed"
    assert second_calls == []


def test_with_nothing_to_serve_a_request_waits_for_the_process_computing_it(settings):
    settings.TEST_FIGURES_FRESH = 60
    started, calls = threading.Event(), []

    def slow():
        calls.append("first")
        started.set()
        time.sleep(0.2)
        return "from the first"

    first = SharedFigures(slow, name="cold", fresh_setting="TEST_FIGURES_FRESH")
    second, second_calls = _figures(settings, fresh_for=60, name="cold")
    thread = threading.Thread(target=first.get)
    thread.start()
    started.wait(5)

    assert second.get() == "from the first"
    thread.join()
    assert (calls, second_calls) == (["first"], [])


def test_each_database_has_figures_of_its_own(settings, monkeypatch):
    figures, _ = _figures(settings, fresh_for=60, name="per-db")
    figures.get()
    other, other_calls = _figures(settings, fresh_for=60, name="per-db")
    monkeypatch.setitem(connection.settings_dict, "NAME", "another database")

    assert other.get() == 1
    assert len(other_calls) == 1


def test_an_unreadable_stored_figure_is_computed_again(settings):
    figures, _ = _figures(settings, fresh_for=60, name="damaged")
    figures.get()
    (figure_store().directory / "damaged.pickle").write_bytes(b"not a pickle")
    other, other_calls = _figures(settings, fresh_for=60, name="damaged")

    assert other.get() == 1
    assert len(other_calls) == 1


def test_clearing_figures_forgets_the_stored_ones(settings):
    figures, _ = _figures(settings, fresh_for=60, name="cleared")
    figures.get()

    figures.clear()

    assert figures.get() == 2
