"""Files only this user may read: var/ holds the database, the secret key and
the delivery log (recipients, message bodies)."""

import os
import stat
from pathlib import Path

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private(path: Path | str, mode: int = PRIVATE_FILE) -> None:
    """Take group and other access away from ``path`` if it exists and is ours.
    Never touches a shared directory such as /tmp (someone else's, or sticky)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return
    if info.st_uid != os.getuid() or info.st_mode & stat.S_ISVTX:
        return
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(path, mode)
