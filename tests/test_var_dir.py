"""var/ holds the SQLite database, the secret key and the delivery log: none
of it is readable by other users, whatever the umask (directory 0700, files
0600), and an existing var/ that was too open is tightened."""

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SNIPPET = """
import logging
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
logging.getLogger("retry_admin.deliveries").info("sent to someone")
"""


def _run(var_dir: Path) -> None:
    environ = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SECRET_KEY")
    }
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", RETRY_ADMIN_VAR_DIR=str(var_dir))
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.umask(0o022),  # the usual umask: files 0644 unless we say
    )
    assert result.returncode == 0, result.stderr


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_creates_var_and_everything_in_it_private(tmp_path):
    var_dir = tmp_path / "var"

    _run(var_dir)

    assert _mode(var_dir) == 0o700
    names = {path.name for path in var_dir.iterdir()}
    assert {"retry_admin.sqlite3", "secret_key", "deliveries.log"} <= names
    for path in var_dir.iterdir():
        assert _mode(path) & 0o077 == 0, (path.name, oct(_mode(path)))


def test_it_tightens_a_var_dir_that_was_too_open(tmp_path):
    var_dir = tmp_path / "var"
    var_dir.mkdir(mode=0o755)
    var_dir.chmod(0o755)
    (var_dir / "secret_key").write_text("x" * 60)
    (var_dir / "secret_key").chmod(0o644)

    _run(var_dir)

    assert _mode(var_dir) == 0o700
    assert _mode(var_dir / "secret_key") == 0o600
    assert _mode(var_dir / "retry_admin.sqlite3") & 0o077 == 0
