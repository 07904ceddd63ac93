"""Where checkpoint bytes come from: the only reading layer that touches the disk.

A `FileSystem` answers a handful of questions about paths and opens `Source`s; a `Source` is
one file that hands out byte ranges. The local implementation memory-maps each data file so
a tensor is a zero-copy view; other backends (fsspec URLs) implement the same two protocols
with range requests. Codecs above this layer only ever see `bytes`/`memoryview`.

Lifetime: NumPy arrays returned to users may be views into a mapping. `close()` therefore
only drops our reference when views are still alive (mmap refuses to close then); the
mapping goes away with the last view.
"""

from __future__ import annotations

import mmap
import os
from typing import Protocol

from ._errors import CheckpointNotFoundError, CorruptCheckpointError

__all__ = ["FileSystem", "LocalFileSystem", "LocalSource", "Source"]


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
        try:
            with open(path, "rb") as f:
                self.size = os.fstat(f.fileno()).st_size
                self._mm: mmap.mmap | None = (
                    mmap.mmap(f.fileno(), 0, access=access) if self.size else None
                )
        except FileNotFoundError:
            raise CheckpointNotFoundError("data file does not exist", path=path) from None
        self._view = memoryview(self._mm) if self._mm is not None else memoryview(b"")

    def read(self, offset: int, length: int) -> memoryview:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise CorruptCheckpointError(
                f"read of {length} bytes at offset {offset} runs past the end of the file "
                f"({self.size} bytes)",
                path=self.path,
            )
        return self._view[offset : offset + length]

    def close(self) -> None:
        self._view.release()
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # arrays still view the mapping; it is released with the last of them
            self._mm = None


class LocalFileSystem:
    """The local disk. ``copy_on_write=True``: data files are mapped privately, so the
    arrays read are writable (see `LocalSource`)."""

    def __init__(self, copy_on_write: bool = False) -> None:
        self.copy_on_write = copy_on_write

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

    def open_source(self, path: str) -> LocalSource:
        return LocalSource(path, self.copy_on_write)

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def dirname(self, path: str) -> str:
        return os.path.dirname(path)
