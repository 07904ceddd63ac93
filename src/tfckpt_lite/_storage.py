"""Where checkpoint bytes come from and go to: the only layer that opens files.

Reading: a `FileSystem` answers a handful of questions about paths and opens `Source`s.
Writing: `AtomicFile` (and `atomic_write` for bytes in hand) is the one way anything here
creates a file, so every write is atomic and durable the same way: a fresh temporary name
beside the target (`_naming.temp_filename`, created exclusively), fsync, rename, fsync of
the directory; on any failure the temporary file is removed and the target is untouched.

A `Source` is one file that hands out byte ranges. The local implementation memory-maps each
data file so a tensor is a zero-copy view; other backends (fsspec URLs) implement the same two
protocols with range requests. Codecs above this layer only ever see `bytes`/`memoryview`.

Lifetime: NumPy arrays returned to users may be views into a mapping. `close()` therefore
only drops our reference when views are still alive (mmap refuses to close then); the
mapping goes away with the last view.

A mapping trusts the file not to shrink: if another program truncates a data file in place
(`cp` or `rsync --inplace` over it) while an array still views the lost pages, touching that
array kills the process with SIGBUS, which no exception handler can catch. `CopyingSource`
(``load_checkpoint(path, mmap=False)``) reads with plain file reads into fresh buffers
instead, so a shrunken file is reported as an error and returned arrays own their memory.
"""

from __future__ import annotations

import io
import mmap
import os
from types import TracebackType
from typing import BinaryIO, Protocol

from ._errors import CheckpointNotFoundError, CorruptCheckpointError
from ._naming import temp_filename

__all__ = [
    "AtomicFile",
    "CopyingSource",
    "FileSystem",
    "LocalFileSystem",
    "LocalSource",
    "Source",
    "atomic_write",
    "check_range",
    "fsync_dir",
]


def check_range(path: str, size: int, offset: int, length: int) -> None:
    """Refuse a read outside [0, size) before anything is allocated or fetched for it."""
    if offset < 0 or length < 0 or offset + length > size:
        raise CorruptCheckpointError(
            f"read of {length} bytes at offset {offset} runs past the end of the file "
            f"({size} bytes)",
            path=path,
        )


def fsync_dir(directory: str) -> None:
    """Make renames in `directory` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _open_data_file(path: str) -> io.FileIO:
    """Open a data shard unbuffered; a missing file or a directory is CheckpointNotFoundError."""
    try:
        return io.FileIO(path, "rb")
    except FileNotFoundError:
        raise CheckpointNotFoundError("data file does not exist", path=path) from None
    except IsADirectoryError:
        raise CheckpointNotFoundError(
            "expected a data file, found a directory", path=path
        ) from None


class Source(Protocol):
    """One readable file."""

    path: str
    size: int

    def read(self, offset: int, length: int) -> memoryview | bytes:
        """Exactly `length` bytes at `offset`; zero-copy where the backend allows."""
        ...

    def close(self) -> None: ...


class FileSystem(Protocol):
    def exists(self, path: str) -> bool: ...
    def isdir(self, path: str) -> bool: ...
    def isfile(self, path: str) -> bool: ...
    def listdir(self, path: str) -> list[str]: ...
    def read_bytes(self, path: str, limit: int | None = None) -> bytes: ...
    def open_source(self, path: str) -> Source: ...
    def join(self, *parts: str) -> str: ...
    def dirname(self, path: str) -> str: ...


class LocalSource:
    """A local file, memory-mapped read-only (an empty file has nothing to map).

    With ``copy_on_write=True`` the mapping is private: arrays viewing it are writable, a
    write copies the touched page in memory and never reaches the file. Handing mapped
    memory to libraries that may write (torch) needs this: a write to a read-only mapping
    kills the process.
    """

    def __init__(self, path: str, copy_on_write: bool = False) -> None:
        self.path = path
        access = mmap.ACCESS_COPY if copy_on_write else mmap.ACCESS_READ
        with _open_data_file(path) as f:
            self.size = os.fstat(f.fileno()).st_size
            self._mm: mmap.mmap | None = (
                mmap.mmap(f.fileno(), 0, access=access) if self.size else None
            )
        self._view = memoryview(self._mm) if self._mm is not None else memoryview(b"")

    def read(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)
        return self._view[offset : offset + length]

    def close(self) -> None:
        self._view.release()
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # arrays still view the mapping; it is released with the last of them
            self._mm = None


class CopyingSource:
    """A local file read with ordinary reads into a new buffer per request (no mapping).

    The descriptor stays open, so a file replaced by rename keeps reading the old contents
    (as with a mapping); a file truncated in place yields a short read, reported as an error.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._f = _open_data_file(path)
        self.size = os.fstat(self._f.fileno()).st_size
        # seek + readinto is one logical operation; readers may share a source across threads.
        # (Imported here: the default, mapped reads never need threading at import time.)
        import threading

        self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)  # the size seen at open
        buf = bytearray(length)
        view = memoryview(buf)
        done = 0
        with self._lock:
            self._f.seek(offset)
            while done < length:
                n = self._f.readinto(view[done:])
                if not n:
                    raise CorruptCheckpointError(
                        f"file shrank while open: {self.size} bytes when opened, a read at "
                        f"offset {offset + done} found nothing",
                        path=self.path,
                    )
                done += n
        return view.toreadonly()

    def close(self) -> None:
        self._f.close()


class LocalFileSystem:
    """The local disk. ``copy_on_write=True``: data files are mapped privately, so the
    arrays read are writable (see `LocalSource`). ``use_mmap=False``: data files are read
    into fresh buffers instead of mapped (see `CopyingSource`)."""

    def __init__(self, copy_on_write: bool = False, use_mmap: bool = True) -> None:
        self.copy_on_write = copy_on_write
        self.use_mmap = use_mmap

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        try:
            with open(path, "rb") as f:
                return f.read() if limit is None else f.read(limit)
        except FileNotFoundError:
            raise CheckpointNotFoundError("file does not exist", path=path) from None
        except IsADirectoryError:
            raise CheckpointNotFoundError("expected a file, found a directory", path=path) from None

    def open_source(self, path: str) -> LocalSource | CopyingSource:
        if not self.use_mmap:
            return CopyingSource(path)
        return LocalSource(path, self.copy_on_write)

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def dirname(self, path: str) -> str:
        return os.path.dirname(path)


class AtomicFile:
    """A new local file that appears at `path` complete or not at all.

    Bytes go to `file`, a temporary file beside `path` (the directory is created if needed).
    `commit()` = `close()` (flush, fsync) + `publish()` (rename onto `path`) + fsync of the
    directory; a writer that renames several files in an order of its own calls `close()` and
    `publish()` itself and fsyncs the directory once. `discard()` removes the temporary file.
    As a context manager: commit on success, discard on an exception.
    """

    def __init__(self, path: str, *, fsync: bool = True, buffering: int = -1) -> None:
        self.path = path
        self.directory = os.path.dirname(path) or "."
        self.fsync = fsync
        os.makedirs(self.directory, exist_ok=True)
        self.temp: str | None = temp_filename(path)
        self.file: BinaryIO = open(self.temp, "xb", buffering=buffering)  # noqa: SIM115
        self._open = True

    def close(self) -> None:
        """Flush and (with `fsync`) sync the temporary file, then close it; idempotent."""
        if self._open:
            self.file.flush()
            if self.fsync:
                os.fsync(self.file.fileno())
            self._open = False
            self.file.close()

    def publish(self) -> None:
        """Rename the closed temporary file onto `path` (the directory is not synced)."""
        assert self.temp is not None and not self._open, "close() the file before publish()"
        os.replace(self.temp, self.path)
        self.temp = None

    def commit(self) -> None:
        self.close()
        self.publish()
        if self.fsync:
            fsync_dir(self.directory)

    def discard(self) -> None:
        """Close without syncing and remove the temporary file; never raises for either."""
        if self._open:
            self._open = False
            try:
                self.file.close()
            except OSError:
                pass
        if self.temp is not None:
            try:
                os.unlink(self.temp)
            except FileNotFoundError:
                pass
            self.temp = None

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()
            return
        try:
            self.commit()
        except BaseException:
            self.discard()
            raise


def atomic_write(path: str, data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` so readers see the old or the new content, never a mix."""
    with AtomicFile(path, fsync=fsync) as out:
        out.file.write(data)
