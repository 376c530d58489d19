"""Files for the bot's user only: folders made 0700 and files 0600, whatever the umask.

The database, its write-ahead log, the backups and the embedding caches hold user ids, names, label
sets and what pictures showed; a umask of 022 would leave them readable by everyone on the host.
The modes are given where each file is made (never by changing the process's umask, which every
thread shares). Folders that already exist are left as they are: the operator chose their mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import BinaryIO

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> None:
    """Create path and its missing parents, each 0700; folders that exist are not touched."""
    missing: list[Path] = []
    folder = path
    while not folder.exists():
        missing.append(folder)
        if folder.parent == folder:
            break
        folder = folder.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=FOLDER_MODE)
        except FileExistsError:  # made meanwhile by someone else: theirs, leave it
            continue
        os.chmod(folder, FOLDER_MODE)  # mkdir's mode passed through the umask


def private_file(path: Path) -> BinaryIO:
    """Open path for writing (truncated, or created) as a 0600 file of the bot's user."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # an existing file keeps its mode through O_CREAT; the umask narrows a new one
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def make_private(path: Path) -> None:
    """Narrow an existing file of the bot's own to 0600 (one an older toonclip made readable)."""
    if path.exists() and path.stat().st_mode & 0o777 != FILE_MODE:
        os.chmod(path, FILE_MODE)
