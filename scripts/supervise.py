#!/usr/bin/env python3
"""Run the programs of a Procfile and keep them running (`make run`).

Each program runs in its own process group (``sh -c "exec <command>"``, so
``$VARS`` expand). When one exits, whatever is left of its group is killed
and it is started again after a backoff that doubles on each crash in a row
(``--backoff`` up to ``--max-backoff`` seconds), reset once it has stayed up
``--stable`` seconds. A program that exits ``--max-restarts`` times within
``--window`` seconds is given up on loudly: the supervisor logs why, stops
everything and exits 1 (a crash loop is a bug or a broken setup; restarting
it forever hides it). SIGTERM or SIGINT stops every program (SIGTERM to the
program, which stops its own children; SIGKILL to its whole group after
``--grace`` seconds) and exits 0.

Why not a library: honcho and foreman stop everything when one program exits
(what scripts/run.sh used to do); supervisord restarts, but backs off only
for a program that dies during start-up (``startsecs``) and restarts one that
crashes later forever, without giving up, and needs a daemon and an ini file.
This is one stdlib-only file, tested in tests/test_supervise.py. Production
supervisors (systemd, Kubernetes) replace it: docs/deploy.md.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field


def log(message: str) -> None:
    print(f"supervise: {message}", file=sys.stderr, flush=True)


def read_procfile(path: str) -> dict[str, str]:
    """``name: command`` lines; blank lines and ``#`` comments are skipped."""
    programs: dict[str, str] = {}
    with open(path) as procfile:
        for number, line in enumerate(procfile, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            name, sep, command = line.partition(":")
            if not sep or not name.strip().replace("-", "").replace("_", "").isalnum():
                raise SystemExit(f"{path}:{number}: expected 'name: command', got {line!r}")
            programs[name.strip()] = command.strip()
    if not programs:
        raise SystemExit(f"{path}: no programs")
    return programs


@dataclass
class Program:
    name: str
    command: str
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    restart_at: float | None = None
    in_a_row: int = 0
    exits: deque = field(default_factory=deque)

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {self.command}"], start_new_session=True
        )
        self.started_at, self.restart_at = time.monotonic(), None
        log(f"{self.name} started (pid {self.process.pid}): {self.command}")

    def signal_leader(self, signum: int) -> None:
        """Only the program itself: qcluster and gunicorn stop their own
        children gracefully (a SIGTERM to the whole group would kill a
        django-q2 worker mid-task)."""
        if self.process is not None and self.process.poll() is None:
            with suppress(ProcessLookupError):
                self.process.send_signal(signum)

    def signal_group(self, signum: int) -> None:
        if self.process is not None:
            with suppress(ProcessLookupError, PermissionError):  # the group is gone already
                os.killpg(self.process.pid, signum)


class Supervisor:
    def __init__(self, programs: dict[str, str], options: argparse.Namespace) -> None:
        self.programs = [Program(name, command) for name, command in programs.items()]
        self.options = options
        self.stopping = False

    def request_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def run(self) -> int:
        for program in self.programs:
            program.start()
        while not self.stopping:
            now = time.monotonic()
            for program in self.programs:
                if program.restart_at is not None:
                    if now >= program.restart_at:
                        program.start()
                    continue
                code = program.process.poll()
                if code is None:
                    continue
                program.signal_group(signal.SIGKILL)  # children it left behind
                if not self.exited(program, code, now):
                    self.stop_all()
                    return 1
            time.sleep(0.1)
        self.stop_all()
        return 0

    def exited(self, program: Program, code: int, now: float) -> bool:
        """Schedule a restart; False when the program is given up on."""
        ran = now - program.started_at
        how = f"signal {-code}" if code < 0 else f"code {code}"
        program.exits.append(now)
        while program.exits and now - program.exits[0] > self.options.window:
            program.exits.popleft()
        if len(program.exits) >= self.options.max_restarts:
            log(
                f"GIVING UP: {program.name} exited {len(program.exits)} times within "
                f"{self.options.window:g} s (last: {how} after {ran:.1f} s). Stopping "
                "everything: fix the cause (its output is above), then start again."
            )
            return False
        program.in_a_row = 1 if ran >= self.options.stable else program.in_a_row + 1
        delay = min(self.options.backoff * 2 ** (program.in_a_row - 1), self.options.max_backoff)
        program.restart_at = now + delay
        log(
            f"{program.name} exited ({how}) after {ran:.1f} s; restarting in {delay:g} s "
            f"(exit {len(program.exits)} of {self.options.max_restarts} allowed within "
            f"{self.options.window:g} s)"
        )
        return True

    def stop_all(self) -> None:
        running = [p for p in self.programs if p.process is not None and p.restart_at is None]
        for program in running:
            program.signal_leader(signal.SIGTERM)
        deadline = time.monotonic() + self.options.grace
        for program in running:
            try:
                program.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{program.name} did not stop within {self.options.grace:g} s: killing it")
            program.signal_group(signal.SIGKILL)  # and whatever it left behind
            program.process.wait()
        log("stopped")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("procfile")
    parser.add_argument("--only", default="", help="comma-separated program names to run")
    parser.add_argument("--max-restarts", type=int, default=5)
    parser.add_argument("--window", type=float, default=300.0)
    parser.add_argument("--backoff", type=float, default=1.0)
    parser.add_argument("--max-backoff", type=float, default=30.0)
    parser.add_argument("--stable", type=float, default=60.0)
    parser.add_argument("--grace", type=float, default=20.0)
    options = parser.parse_args(argv)
    programs = read_procfile(options.procfile)
    if options.only:
        wanted = options.only.split(",")
        unknown = set(wanted) - set(programs)
        if unknown:
            raise SystemExit(f"not in {options.procfile}: {', '.join(sorted(unknown))}")
        programs = {name: programs[name] for name in wanted}
    supervisor = Supervisor(programs, options)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    signal.signal(signal.SIGINT, supervisor.request_stop)
    return supervisor.run()


if __name__ == "__main__":
    sys.exit(main())
