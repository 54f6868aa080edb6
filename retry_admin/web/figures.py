"""Figures shared by everyone watching a live page, served without waiting.

Counting a million message logs by status takes a noticeable fraction of a
second on any database; the overview polls every 3 s from every open tab.
So the overview's figures are computed at most once per ``fresh_for``
seconds per process, in a background thread while the previous figures are
served (stale-while-revalidate); a request computes them itself only when
there are none younger than ``serve_stale_for`` (the first visit, or after a
quiet spell). The page says when its figures were computed.

Figures that take long to compute (a busy machine, a big table) are kept
``COST_FACTOR`` times as long as they took, so that recomputing them takes at
most about a tenth of one core however many tabs are watching.

``KeyedFigures`` does the same for reads that take an argument: the batch
list's progress (a count by status of every message of 25 batches, 220,000
at a million messages), a batch's most common errors (every failed message
of the batch) and the failure groups of a tab (every message of that
status), which the pages poll every 3 and 5 s.
"""

import logging
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

COST_FACTOR = 10

# Every instance, so that clear_all() can forget what each has served.
_INSTANCES: "weakref.WeakSet[SharedFigures | KeyedFigures]" = weakref.WeakSet()


def clear_all() -> None:
    """Forget every figure served so far (tests: each reads its own data)."""
    for figures in list(_INSTANCES):
        figures.clear()


class SharedFigures:
    def __init__(
        self, compute: Callable[[], Any], *, fresh_setting: str, fresh_for: float = 2.0
    ) -> None:
        self.compute = compute
        self.fresh_setting = fresh_setting
        self.default_fresh_for = fresh_for
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = float("-inf")
        self._refreshing = False
        self._cost = 0.0  # seconds the last computation took
        _INSTANCES.add(self)

    @property
    def fresh_for(self) -> float:
        """The setting, or ``COST_FACTOR`` times the last computation's
        duration when that is longer; 0 (every request computes) stays 0."""
        setting = float(getattr(settings, self.fresh_setting, self.default_fresh_for))
        return max(setting, COST_FACTOR * self._cost) if setting else 0.0

    @property
    def serve_stale_for(self) -> float:
        return 15 * self.fresh_for

    def get(self) -> Any:
        with self._lock:
            age = time.monotonic() - self._at
            if self._value is not None and age < self.fresh_for:
                return self._value
            if self._value is not None and age < self.serve_stale_for:
                if not self._refreshing:
                    self._refreshing = True
                    threading.Thread(
                        target=self._refresh, name="console-figures", daemon=True
                    ).start()
                return self._value
        return self._compute_and_store()

    def clear(self) -> None:
        with self._lock:
            self._value, self._at = None, float("-inf")

    def _compute_and_store(self) -> Any:
        started = time.monotonic()
        value = self.compute()
        with self._lock:
            self._value, self._at = value, time.monotonic()
            self._cost = self._at - started
        return value

    def _refresh(self) -> None:
        try:
            self._compute_and_store()
        except Exception:  # the page keeps the last figures; say why they are old
            logger.exception("Refreshing the console's figures failed")
        finally:
            with self._lock:
                self._refreshing = False
            connection.close()  # this thread's own connection


class KeyedFigures:
    """``SharedFigures`` for a read that takes an argument (a page's batch
    ids, a failures tab): one shared value per key, the ``max_keys`` most
    recently asked for kept per process."""

    def __init__(
        self,
        compute: Callable[[Any], Any],
        *,
        fresh_setting: str,
        fresh_for: float = 2.0,
        max_keys: int = 32,
    ) -> None:
        self.compute = compute
        self.fresh_setting = fresh_setting
        self.fresh_for = fresh_for
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._by_key: OrderedDict[Any, SharedFigures] = OrderedDict()
        _INSTANCES.add(self)

    def get(self, key: Any) -> Any:
        with self._lock:
            shared = self._by_key.get(key)
            if shared is None:
                shared = SharedFigures(
                    lambda: self.compute(key),
                    fresh_setting=self.fresh_setting,
                    fresh_for=self.fresh_for,
                )
                self._by_key[key] = shared
                while len(self._by_key) > self.max_keys:
                    self._by_key.popitem(last=False)
            else:
                self._by_key.move_to_end(key)
        return shared.get()

    def clear(self) -> None:
        with self._lock:
            self._by_key.clear()
