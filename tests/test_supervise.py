"""scripts/supervise.py, the supervisor of `make run`, driving real processes."""

import importlib.util
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "supervise.py"


def _module():
    spec = importlib.util.spec_from_file_location("supervise", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _start(tmp_path: Path, procfile: str, *args: str) -> subprocess.Popen:
    path = tmp_path / "Procfile"
    path.write_text(procfile)
    return subprocess.Popen(
        [sys.executable, str(SCRIPT), str(path), *args],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, *, lines: int, seconds: float = 10) -> list[str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = path.read_text().split() if path.exists() else []
        if len(found) >= lines:
            return found
        time.sleep(0.05)
    pytest.fail(f"{path} has fewer than {lines} lines: {found}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0): look at its state.
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(") ")[1][0] != "Z"


def test_it_reads_a_procfile(tmp_path):
    path = tmp_path / "Procfile"
    path.write_text("# comment\n\nweb: gunicorn x --bind $BIND\nsend-er_2: python a: b\n")
    assert _module().read_procfile(str(path)) == {
        "web": "gunicorn x --bind $BIND",
        "send-er_2": "python a: b",
    }


@pytest.mark.parametrize("text", ["", "# only a comment\n", "no colon here\n", "a b: c\n"])
def test_it_refuses_a_bad_procfile(tmp_path, text):
    path = tmp_path / "Procfile"
    path.write_text(text)
    with pytest.raises(SystemExit):
        _module().read_procfile(str(path))


def test_a_killed_process_group_is_restarted_and_the_others_keep_running(tmp_path):
    supervisor = _start(
        tmp_path,
        "a: sh -c 'echo $$ >> a.pids; sleep 60 & wait'\n"
        "b: sh -c 'echo $$ >> b.pids; exec sleep 60'\n",
        "--backoff",
        "0.2",
    )
    try:
        [first] = _wait_for(tmp_path / "a.pids", lines=1)
        [b] = _wait_for(tmp_path / "b.pids", lines=1)
        os.killpg(int(first), signal.SIGKILL)  # the program and its child `sleep`
        pids = _wait_for(tmp_path / "a.pids", lines=2)
        assert pids[1] != first and _alive(int(pids[1]))
        assert _alive(int(b)) and (tmp_path / "b.pids").read_text().split() == [b]
        assert supervisor.poll() is None
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=15) == 0
    assert not _alive(int(pids[1])) and not _alive(int(b))
    log = supervisor.stderr.read()
    assert "a exited (signal 9)" in log and "restarting in 0.2 s" in log


def test_it_backs_off_then_gives_up_loudly_and_stops_everything(tmp_path):
    supervisor = _start(
        tmp_path,
        "crash: sh -c 'date +%s.%N >> starts; exit 3'\n"
        "steady: sh -c 'echo $$ > steady.pid; exec sleep 60'\n",
        "--backoff",
        "0.1",
        "--max-restarts",
        "4",
        "--window",
        "60",
    )
    assert supervisor.wait(timeout=30) == 1
    log = supervisor.stderr.read()
    starts = [float(t) for t in (tmp_path / "starts").read_text().split()]
    assert len(starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    # 0.1, 0.2, 0.4 s: each wait doubles (plus the time to start a shell).
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2 and gaps[2] >= 0.4, gaps
    assert gaps[2] > gaps[0]
    assert "GIVING UP: crash exited 4 times within 60 s (last: code 3" in log
    steady = int((tmp_path / "steady.pid").read_text())
    assert not _alive(steady)


def test_sigterm_stops_every_program_and_exits_0(tmp_path):
    supervisor = _start(
        tmp_path,
        'a: sh -c \'trap "echo stopped > a.out; exit 0" TERM; echo $$ > a.pid; '
        "while true; do sleep 0.1; done'\n",
    )
    pid = int(_wait_for(tmp_path / "a.pid", lines=1)[0])
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    assert (tmp_path / "a.out").read_text().strip() == "stopped"  # SIGTERM, not SIGKILL
    assert not _alive(pid)


def test_a_program_that_ignores_sigterm_is_killed_after_the_grace(tmp_path):
    supervisor = _start(
        tmp_path,
        "a: sh -c 'trap \"\" TERM; echo $$ > a.pid; while true; do sleep 0.1; done'\n",
        "--grace",
        "0.5",
    )
    pid = int(_wait_for(tmp_path / "a.pid", lines=1)[0])
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    assert not _alive(pid)
    assert "a did not stop within 0.5 s: killing it" in supervisor.stderr.read()


def test_sigterm_reaches_the_program_not_its_children_then_the_group_is_killed(tmp_path):
    # A program that stops its child itself (as qcluster stops its workers):
    # the child must not get the SIGTERM first, and nothing may outlive the stop.
    supervisor = _start(
        tmp_path,
        'a: sh -c \'sh -c "trap \\"echo child-term >> a.out\\" TERM; '
        'echo \\$\\$ > child.pid; while true; do sleep 0.1; done" & '
        'trap "echo leader-term >> a.out; exit 0" TERM; echo $$ > a.pid; '
        "while true; do sleep 0.1; done'\n",
        "--grace",
        "2",
    )
    _wait_for(tmp_path / "a.pid", lines=1)
    child = int(_wait_for(tmp_path / "child.pid", lines=1)[0])
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(timeout=15) == 0
    assert (tmp_path / "a.out").read_text().split() == ["leader-term"]
    assert not _alive(child)  # killed with the group once its leader stopped
