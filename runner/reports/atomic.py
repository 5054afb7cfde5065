"""Atomic file writes: a reader sees the old file or the new one, never half of either.

The run directory is read by CI steps and dashboards while a run may still be ending (or being
interrupted), so every report goes through here.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from runner.errors import RunDirError


def write_atomic(path: Path, data: str | bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` (str is UTF-8 encoded) to ``path`` atomically and durably; returns ``path``.

    The bytes go to a temporary file in the same directory (so the final rename never crosses a
    file system), are fsynced, and replace ``path`` with ``os.replace``. On any failure the
    temporary file is removed, ``path`` is left as it was, and RunDirError names the file.
    """
    path = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    try:
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise RunDirError(f"cannot write {path}: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(payload)
            f.flush()
            # mkstemp creates 0600; reports are meant to be read by other users and CI steps.
            os.fchmod(f.fileno(), mode)
            os.fsync(f.fileno())
        os.replace(tmp_name, path)
    except BaseException as err:
        # Also on KeyboardInterrupt mid-write (an interrupted run): no stray temp file is left.
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        if isinstance(err, OSError):
            raise RunDirError(f"cannot write {path}: {err.strerror or err}") from err
        raise
    _fsync_dir(path.parent)
    return path


def _fsync_dir(directory: Path) -> None:
    # The rename is durable only once the directory entry is on disk; not every platform or file
    # system allows opening a directory, and the file itself is already complete, so this is best effort.
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
