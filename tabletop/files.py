"""Files the tool fingerprints and writes: a file's SHA-256, and the private, atomic writer for reports.

Everything the tool writes beside a transcript (the post-mortem drafts, review exports) goes
through `write_private`: the text is written to a new temporary file in the target's folder
(mode 0600, created exclusively), flushed to disk, then renamed over the target. A reader
never sees half a file, a crash leaves the old file or the new one, and a symlink planted at
the target is replaced, never written through.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600
"""Transcripts and everything drawn from them are readable by their owner only."""


def file_sha256(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes, read in blocks; raises OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_private(path: str | Path, content: str | bytes) -> Path:
    """Write `content` (text as UTF-8) to `path` atomically, mode 0600; parents are created.

    Raises OSError when the folder cannot be written; the target is then left as it was.
    """
    path = Path(path)
    data = content.encode("utf-8") if isinstance(content, str) else content
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), PRIVATE_MODE)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path
