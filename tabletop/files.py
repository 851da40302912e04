"""Read input files safely (regular files only, size checked first) and write output files privately.

Inputs: scenario, inject library, scoring, decision script and MSEL files are read only when
they are regular files (a symlink is followed, but never to a FIFO, a device or a directory)
of at most `MAX_INPUT_BYTES`; the size is checked before a byte is parsed, so `/dev/zero` or a
50 MB file is refused at once. Transcripts may be larger (`MAX_TRANSCRIPT_BYTES`) and are read
line by line. A file that is not valid input is never echoed back: error messages name the
file and the line, not its content.

Outputs (reports, review exports, the review index, MSEL exports, guides, skeletons) are
written with mode 0600, atomically (a temporary file in the same folder, fsync'd, then
renamed), never through a symbolic link, and never over an existing file unless the caller
says so (`force`, or a draft the tool wrote for the same transcript: see `draft_marker`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

MAX_INPUT_BYTES = 5 * 1024 * 1024
"""Scenario, inject library, scoring, decision script and MSEL files: at most 5 MB each."""

MAX_TRANSCRIPT_BYTES = 512 * 1024 * 1024
"""Transcripts are streamed; a file beyond 512 MB is refused rather than read for minutes."""

MAX_TRANSCRIPT_LINE = 16 * 1024 * 1024
"""One transcript line (the first embeds the whole scenario) may not exceed 16 MB."""

PRIVATE_MODE = 0o600


class InputFileError(OSError):
    """An input that is not a readable regular file of an acceptable size; the message says why."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return self.reason


class OutputFileError(OSError):
    """An output that cannot be written safely (exists, is a link, cannot be created)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _describe(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB" if size >= 1024 * 1024 else f"{size} bytes"


def open_regular(path: Path | str, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> BinaryIO:
    """Open `path` for reading if it is a regular file of at most `limit` bytes.

    Opening never blocks (a FIFO is opened non-blocking and then refused) and the checks are
    made on the open descriptor, so the file cannot be swapped between check and read.
    Raises InputFileError (an OSError) naming the reason.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(str(path), flags)
    except FileNotFoundError:
        raise InputFileError(path, f"no such {what}") from None
    except IsADirectoryError:
        raise InputFileError(path, f"is a directory, not a {what}") from None
    except OSError as error:
        raise InputFileError(path, f"cannot read the {what}: {error.strerror or error}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise InputFileError(
                path, f"is {_describe(info.st_mode)}, not a {what}; only regular files are read"
            )
        if info.st_size > limit:
            raise InputFileError(
                path, f"is {_mb(info.st_size)}; a {what} may be at most {_mb(limit)} (refused unread)"
            )
        if hasattr(os, "O_NONBLOCK"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_input(path: Path | str, *, limit: int = MAX_INPUT_BYTES, what: str = "file") -> bytes:
    """The bytes of a regular file of at most `limit` bytes (see `open_regular`)."""
    with open_regular(path, limit=limit, what=what) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew after the check
        raise InputFileError(path, f"is larger than {_mb(limit)}; a {what} may be at most {_mb(limit)}")
    return data


def file_sha256(path: Path | str, *, limit: int = MAX_TRANSCRIPT_BYTES) -> str:
    """SHA-256 (hex) of a regular file of at most `limit` bytes, read in blocks.

    Raises OSError (InputFileError) when it is not one or cannot be read: never reads a FIFO or
    a device.
    """
    with open_regular(path, limit=limit) as handle:
        digest = hashlib.sha256()
        read = 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            read += len(block)
            if read > limit:
                raise InputFileError(path, f"is larger than {_mb(limit)}")
            digest.update(block)
        return digest.hexdigest()


def sha256_of(path: Path | str, *, limit: int = MAX_INPUT_BYTES) -> str | None:
    """SHA-256 of a regular file of at most `limit` bytes, or None when it is not one."""
    try:
        return file_sha256(path, limit=limit)
    except OSError:
        return None


# --- writing -------------------------------------------------------------------------------


def draft_marker(transcript_id: str) -> str:
    """The line a post-mortem draft carries so that the tool may rewrite its own draft."""
    return f"tabletop-draft-of: {transcript_id}"


def is_draft_of(path: Path, transcript_id: str) -> bool:
    """True when `path` is a regular file that holds the draft marker for `transcript_id`."""
    marker = draft_marker(transcript_id).encode("utf-8")
    try:
        with open_regular(path, limit=64 * 1024 * 1024) as handle:
            return marker in handle.read()
    except OSError:
        return False


def write_private(
    path: Path | str,
    data: bytes | str,
    *,
    force: bool = False,
    may_replace: Callable[[Path], bool] | None = None,
) -> Path:
    """Write `data` to `path` with mode 0600, atomically, never through a symlink.

    An existing file is replaced only with `force`, or when `may_replace(path)` says so (a
    draft this tool wrote for the same transcript). A symbolic link at `path` is neither
    followed nor kept: the new file takes the link's place and what it pointed to is
    untouched. Raises OutputFileError.
    """
    path = Path(path)
    if isinstance(data, str):
        data = data.encode("utf-8")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as error:
        raise OutputFileError(path, f"cannot write: {error.strerror or error}") from None
    link = info is not None and stat.S_ISLNK(info.st_mode)
    if info is not None and not link:
        if not stat.S_ISREG(info.st_mode):
            raise OutputFileError(path, f"exists and is {_describe(info.st_mode)}; not overwritten")
        if not force and not (may_replace is not None and may_replace(path)):
            raise OutputFileError(path, "exists; use --force to overwrite it")
    folder = path.parent if str(path.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=folder)
    except OSError as error:
        raise OutputFileError(path, f"cannot write: {error.strerror or error}") from None
    try:
        try:
            os.fchmod(fd, PRIVATE_MODE)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        if info is None:
            try:  # no-clobber: fails if someone created the target meanwhile
                os.link(temporary, path)
            except FileExistsError:
                raise OutputFileError(path, "exists; use --force to overwrite it") from None
            except OSError as error:
                if error.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
                    raise
                os.replace(temporary, path)  # a file system without hard links
            finally:
                if os.path.lexists(temporary):
                    os.unlink(temporary)
        else:
            os.replace(temporary, path)  # replaces the name (a planted link too); never writes through it
    except OutputFileError:
        raise
    except OSError as error:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise OutputFileError(path, f"cannot write: {error.strerror or error}") from None
    return path


def create_private(path: Path | str) -> None:
    """Create `path` empty with mode 0600 unless it exists; refuse a symlink at `path`.

    For files another library then opens by name (the SQLite review index).
    """
    path = Path(path)
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        info = None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise OutputFileError(path, "is a symbolic link; refusing to write through it (remove it first)")
        if not stat.S_ISREG(info.st_mode):
            raise OutputFileError(path, f"exists and is {_describe(info.st_mode)}")
        if info.st_mode & 0o077:
            os.chmod(path, PRIVATE_MODE)
        return None
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(str(path), flags, PRIVATE_MODE)
    except FileExistsError:
        return create_private(path)
    os.fchmod(fd, PRIVATE_MODE)
    os.close(fd)
    return None
