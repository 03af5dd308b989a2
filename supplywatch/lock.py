"""One `supplywatch run` at a time per database: an advisory lock file beside it.

cron starts a run every hour whether or not the last one finished; a slow crawl must not have a
second one crawling, classifying and mailing over it. ``flock`` is released by the kernel when
the process dies, so a crashed run never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from supplywatch.store import BusyError, StorageError


def lock_path(db: str | Path) -> Path:
    return Path(f"{db}.lock")


@contextmanager
def exclusive(db: str | Path) -> Iterator[Path]:
    """Hold the run lock of ``db`` for the block; BusyError at once if another process holds it."""
    path = lock_path(db)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        # A file beside the database that cannot be written is the storage's trouble (exit 3, as the README says).
        raise StorageError(f"{path}: cannot create the run lock: {exc.strerror or exc}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise BusyError(f"another supplywatch run is in progress (lock {path}, pid {holder}); "
                            "this one did nothing") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)  # closing the descriptor releases the lock
