"""Figures shared by everyone watching a live page, served without waiting.

Counting a million message logs by status takes a noticeable fraction of a
second on any database; the overview polls every 3 s from every open tab.
So the overview's figures are computed at most once per ``fresh_for``
seconds, in a background thread while the previous figures are served
(stale-while-revalidate); a request computes them itself only when there
are none younger than ``serve_stale_for`` (the first visit, or after a
quiet spell). The page says when its figures were computed.

The web server runs several worker processes (scripts/run.sh), and each
would otherwise compute every figure itself: twice the work, and a worker
that has not served a page yet computes it inside a request. So the latest
figures are kept in a file per figure (``FigureStore``, under the var dir,
one directory per database), written whole by the one process that holds
the figure's lock (``flock``) and read by every other: one computation per
interval on the host, however many workers. A worker that finds the lock
taken serves what it has; one with nothing to serve waits for the lock and
reads what the holder wrote instead of computing it again.

Figures that take long to compute (a busy machine, a big table) are kept
``COST_FACTOR`` times as long as they took, so that recomputing them takes at
most about a tenth of one core however many tabs are watching.

``KeyedFigures`` does the same for reads that take an argument: the batch
list's progress (a count by status of every message of 25 batches, 220,000
at a million messages), a batch's most common errors (every failed message
of the batch) and the failure groups of a tab (every message of that
status), which the pages poll every 3 and 5 s.
"""

import fcntl
import hashlib
import logging
import os
import pickle
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, NamedTuple

from django.conf import settings
from django.db import connection

logger = logging.getLogger(__name__)

COST_FACTOR = 10
# Files of figures nobody has asked for in this long are deleted (a batch
# list page or a batch nobody opens again).
FORGET_AFTER_SECONDS = 24 * 3600

# Every instance, so that clear_all() can forget what each has served.
_INSTANCES: "weakref.WeakSet[SharedFigures | KeyedFigures]" = weakref.WeakSet()


def clear_all() -> None:
    """Forget every figure served so far (tests: each reads its own data)."""
    for figures in list(_INSTANCES):
        figures.clear()


class Entry(NamedTuple):
    value: Any
    at: float  # when it was computed (time.time(): the same clock in every process)
    cost: float  # seconds the computation took


class FigureStore:
    """The latest figures of one database, shared by the processes of a
    host: ``<name>.pickle`` written whole (a new file renamed over the old),
    ``<name>.lock`` held while one process computes it."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._swept = 0.0

    def _path(self, name: str, suffix: str) -> Path:
        return self.directory / f"{name}{suffix}"

    def signature(self, name: str) -> tuple | None:
        """Changes whenever the figure is written again (``None``: never written)."""
        try:
            stat = os.stat(self._path(name, ".pickle"))
        except FileNotFoundError:
            return None
        return (stat.st_ino, stat.st_mtime_ns, stat.st_size)

    def read(self, name: str) -> Entry | None:
        try:
            with open(self._path(name, ".pickle"), "rb") as file:
                return Entry(*pickle.load(file))
        except FileNotFoundError:
            return None
        except (OSError, pickle.UnpicklingError, EOFError, TypeError, ValueError):
            # Another version of the code wrote it, or it is damaged: compute anew.
            logger.warning("Unreadable console figures %s: computing them again", name)
            return None

    def write(self, name: str, entry: Entry) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self._path(name, ".pickle")
        partial = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}")
        with open(partial, "wb") as file:
            pickle.dump(tuple(entry), file, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(partial, target)
        self._sweep()

    def remove(self, name: str) -> None:
        self._path(name, ".pickle").unlink(missing_ok=True)

    def lock(self, name: str, *, wait: bool) -> IO | None:
        """The figure's lock, held until ``unlock``; ``None`` when another
        process or thread holds it and ``wait`` is false. The kernel releases
        it if the holder dies."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        file = open(self._path(name, ".lock"), "a")  # noqa: SIM115 - closed by unlock
        try:
            fcntl.flock(file, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            file.close()
            return None
        return file

    @staticmethod
    def unlock(file: IO) -> None:
        fcntl.flock(file, fcntl.LOCK_UN)
        file.close()

    def _sweep(self) -> None:
        now = time.time()
        if now - self._swept < 3600:
            return
        self._swept = now
        for path in self.directory.glob("*.pickle"):
            try:
                if now - path.stat().st_mtime > FORGET_AFTER_SECONDS:
                    path.unlink()
            except FileNotFoundError:
                pass


_STORES: dict[Path, FigureStore] = {}


def figure_store() -> FigureStore:
    """The store of the database this process uses, under the var dir."""
    db = connection.settings_dict
    identity = repr((db["ENGINE"], db["NAME"], db.get("HOST"), db.get("PORT")))
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    directory = Path(settings.VAR_DIR) / "console-figures" / digest
    if directory not in _STORES:
        _STORES[directory] = FigureStore(directory)
    return _STORES[directory]


class SharedFigures:
    """One figure (``compute()``'s value), shared by every request of every
    worker process; ``name`` is its file in the ``FigureStore``."""

    def __init__(
        self,
        compute: Callable[[], Any],
        *,
        name: str,
        fresh_setting: str,
        fresh_for: float = 2.0,
    ) -> None:
        self.compute = compute
        self.name = name
        self.fresh_setting = fresh_setting
        self.default_fresh_for = fresh_for
        self._lock = threading.Lock()
        self._entry: Entry | None = None
        self._signature: tuple | None = None  # of the file _entry was read from
        self._refreshing = False
        _INSTANCES.add(self)

    @property
    def fresh_for(self) -> float:
        """The setting, or ``COST_FACTOR`` times the last computation's
        duration when that is longer; 0 (every request computes) stays 0."""
        setting = float(getattr(settings, self.fresh_setting, self.default_fresh_for))
        cost = self._entry.cost if self._entry else 0.0
        return max(setting, COST_FACTOR * cost) if setting else 0.0

    @property
    def serve_stale_for(self) -> float:
        return 15 * self.fresh_for

    def get(self) -> Any:
        if not self.fresh_for:
            return self.compute()
        entry = self._latest()
        age = time.time() - entry.at if entry else float("inf")
        if age < self.fresh_for:
            return entry.value
        if age < self.serve_stale_for:
            self._refresh_in_background()
            return entry.value
        return self._refresh()

    def clear(self) -> None:
        with self._lock:
            self._entry, self._signature = None, None
        if self.fresh_for:
            figure_store().remove(self.name)

    def _latest(self) -> Entry | None:
        """The newest of what this process has and what the store has."""
        entry = self._entry
        if entry is not None and time.time() - entry.at < self.fresh_for:
            return entry
        store = figure_store()
        signature = store.signature(self.name)
        if signature is None or signature == self._signature:
            return entry
        stored = store.read(self.name)
        with self._lock:
            if stored is not None and (self._entry is None or stored.at > self._entry.at):
                self._entry = stored
            self._signature = signature
            return self._entry

    def _refresh_in_background(self) -> None:
        """Refresh the figure in a thread of this process, unless one already
        is or another process holds its lock (it is computing it)."""
        with self._lock:
            if self._refreshing:
                return
            held = figure_store().lock(self.name, wait=False)
            if held is None:
                return
            self._refreshing = True
        threading.Thread(
            target=self._background, args=(held,), name="console-figures", daemon=True
        ).start()

    def _background(self, held: IO) -> None:
        try:
            self._compute_and_store()
        except Exception:  # the page keeps the last figures; say why they are old
            logger.exception("Refreshing the console's figures failed")
        finally:
            FigureStore.unlock(held)
            with self._lock:
                self._refreshing = False
            connection.close()  # this thread's own connection

    def _refresh(self) -> Any:
        """In a request with nothing to serve: wait for the figure's lock, so
        that a computation another process has started is read, not repeated."""
        held = figure_store().lock(self.name, wait=True)
        try:
            return self._compute_and_store()
        finally:
            FigureStore.unlock(held)

    def _compute_and_store(self) -> Any:
        """With the figure's lock held: compute and store it, unless what the
        store has was written while the lock was waited for."""
        entry = self._latest()
        if entry is not None and time.time() - entry.at < self.fresh_for:
            return entry.value
        store = figure_store()
        started = time.monotonic()
        value = self.compute()
        entry = Entry(value, time.time(), time.monotonic() - started)
        store.write(self.name, entry)
        with self._lock:
            self._entry, self._signature = entry, store.signature(self.name)
        return value


class KeyedFigures:
    """``SharedFigures`` for a read that takes an argument (a page's batch
    ids, a failures tab): one shared value per key, the ``max_keys`` most
    recently asked for kept in each process."""

    def __init__(
        self,
        compute: Callable[[Any], Any],
        *,
        name: str,
        fresh_setting: str,
        fresh_for: float = 2.0,
        max_keys: int = 32,
    ) -> None:
        self.compute = compute
        self.name = name
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
                # The key as every process writes it: ints, strings and tuples of them.
                digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
                shared = SharedFigures(
                    lambda: self.compute(key),
                    name=f"{self.name}-{digest}",
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
            shared, self._by_key = list(self._by_key.values()), OrderedDict()
        for figures in shared:
            figures.clear()
