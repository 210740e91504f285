"""Atomic file writes for the weight converters (tools/convert_e5.py, tools/convert_efficientnet.py).

Standard library only. The bytes go to a temporary file next to the target, are fsynced, and
the file is renamed over the target, so a reader sees the old file or the new one, never a part.
"""

from __future__ import annotations

import os
import tempfile
from typing import Iterable


def write_atomically(path: str, chunks: Iterable[bytes]) -> None:
    """Write the chunks to a temporary file next to `path`, fsync, then rename over it."""
    folder = os.path.dirname(os.path.abspath(path))
    fd, temporary = tempfile.mkstemp(prefix=".convert-", suffix=".tmp", dir=folder)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
