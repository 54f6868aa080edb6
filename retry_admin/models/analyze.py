"""Planner statistics that keep up with a backlog (PostgreSQL).

The sender's hot statements pick their plan from the tables' statistics:
the db queue's claim reads the claim index in order only if the planner
knows the queue holds many visible rows, and the lease finds its logs by
primary key only if it knows ``status = 'pending'`` is common. Statistics
taken while the tables were empty or fully sent (or never taken) say the
opposite, and then a 100,000-message backlog costs a bitmap scan and an
external sort per claim and a scan of every pending log per lease
(175 ms and 140 ms a chunk instead of 10 ms and 34 ms, EXPLAIN ANALYZE at
100,000 logs). Autovacuum fixes that only after its next nap (a minute by
default, never when it is off), by which time a backlog of that size is
half sent. ``analyze_if_stale`` does the same check autovacuum does, at
once, and sooner: a table whose rows changed by more than a fiftieth since
its last ``ANALYZE`` (autovacuum waits for a tenth), or that was never
analyzed, is analyzed now. A fiftieth because a lease planned on the status
index reads every pending log for each chunk (1.5 µs a pending log here):
draining P pending logs that way costs about 1.5 ns times P squared (0.6 s
for 20,000, 3.8 s for 50,000), while an ``ANALYZE`` samples 30,000 rows
whatever the table's size (0.5 s for the logs table at 100,000 rows here).
"""

import time

from django.db import DatabaseError, connection, models

CHECK_EVERY_SECONDS = 10.0  # between two looks at a table's counters
ANALYZE_EVERY_SECONDS = 60.0  # between two ANALYZEs of a table (a drain keeps changing it)
# Fewer changes than this never call for an ANALYZE (autovacuum's threshold
# on the queue table, migration 0011): a plan made for an empty table costs a
# few milliseconds a chunk over a backlog that small, about what ANALYZE costs.
MIN_CHANGES = 10_000
CHANGED_FRACTION = 0.02

_next_look: dict[str, float] = {}  # table -> monotonic time of its next look


def analyze_if_stale(
    model: type[models.Model],
    *,
    min_changes: int | None = None,
) -> bool:
    """``ANALYZE`` ``model``'s table if its statistics are stale: never taken
    (or taken while it was empty) with ``min_changes`` (``MIN_CHANGES``) rows
    written since, or
    more rows changed since the last one than ``CHANGED_FRACTION`` of what it
    counted.
    Looks at most every ``CHECK_EVERY_SECONDS`` per table and process, and
    not for ``ANALYZE_EVERY_SECONDS`` after analyzing it; never inside a
    transaction, never waits for a lock (``SKIP_LOCKED``), and does
    nothing off PostgreSQL. Returns whether it analyzed."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    table = model._meta.db_table
    now = time.monotonic()
    if now < _next_look.get(table, now):
        return False
    _next_look[table] = now + CHECK_EVERY_SECONDS
    try:
        with connection.cursor() as cursor:
            if connection.pg_version >= 150000:
                # This process's own writes count too (pending until a flush).
                cursor.execute("SELECT pg_stat_force_next_flush()")
            cursor.execute(
                "SELECT s.n_mod_since_analyze, c.reltuples,"
                " s.last_analyze IS NULL AND s.last_autoanalyze IS NULL"
                " FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid"
                " WHERE s.relid = %s::regclass",
                [table],
            )
            row = cursor.fetchone()
            floor = MIN_CHANGES if min_changes is None else min_changes
            if row is None or not is_stale(*row, min_changes=floor):
                return False
            cursor.execute(f"ANALYZE (SKIP_LOCKED) {connection.ops.quote_name(table)}")
            _next_look[table] = time.monotonic() + ANALYZE_EVERY_SECONDS
    except DatabaseError:  # not the owner, say: autovacuum still analyzes it
        return False
    return True


def is_stale(changed: int, counted: float, never: bool, *, min_changes: int) -> bool:
    """Whether statistics are stale: ``changed`` rows written since they were
    taken over ``counted`` rows (``reltuples``: -1 or 0 when never taken or
    taken on an empty table), ``never`` analyzed at all."""
    if changed < min_changes:
        return False
    return never or counted <= 0 or changed >= CHANGED_FRACTION * counted
