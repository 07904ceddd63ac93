"""Where checkpoint bytes come from and go to: the only layer that opens files.

Reading: a `FileSystem` answers a handful of questions about paths and opens `Source`s.
Writing: `create` (and `atomic_write` for bytes in hand) is the one way anything here
creates a file, so every write is atomic and durable the same way. `destination` decides
where a path lives, and a URL is never taken for a local path:
  * a local path: an `AtomicFile`, a fresh temporary name beside the target
    (`_naming.temp_filename`, created exclusively), fsync, rename, fsync of the directory;
    on any failure the temporary file is removed and the target is untouched.
  * a URL (``s3://``, ``gs://``, any fsspec store that takes writes): a `_remote.RemoteFile`,
    an upload streamed straight to the target's name that the store makes visible, whole,
    only when it completes (object stores have no rename; their PUT and multipart/resumable
    uploads are atomic instead); a failure cancels the upload. A URL whose store takes no
    writes (``https://``) or that no installed fsspec filesystem serves is refused with a
    ValueError/ImportError naming it.
Writers of several files (a checkpoint's data, then its index, then the state file) order
their `publish()` calls so that what names other files appears last.

A `Source` is one file that hands out byte ranges in two ways:

* `read`: bytes for decoding (strings, headers, checksums). Possibly a read-only view shared
  with other reads; never memory that faults when written (see below).
* `read_private`: writable memory that belongs to this one call. Writing to it changes
  neither the file nor what any other read returns. Tensor values handed to users come from
  here (as TensorFlow's arrays, they are the caller's to modify in place).

The local implementation keeps one mapping per data file for `read`, and answers
`read_private` with a fresh private copy-on-write mapping (`mmap.ACCESS_COPY`) of just the
requested bytes when they are at least `PRIVATE_MAP_MIN` long: no copy is made, pages are read
from the page cache as they are touched and copied only when written. Smaller ranges are
copied (a mapping costs more than the copy). Other backends (fsspec URLs) implement the same
two protocols with range requests; codecs above this layer only ever see bytes/memoryview.

Every mapping is private (`ACCESS_COPY`), so even a read-only view that a caller makes
writable (``torch.from_numpy`` ignores the flag) copies a page on write instead of killing
the process; a mapping that cannot be made (too many mappings, an address-space or
commit-charge limit) falls back to copying.

Lifetime: NumPy arrays returned to users may be views into a mapping. `close()` therefore
only drops our reference when views are still alive (mmap refuses to close then); a mapping
goes away with the last view.

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
import posixpath
from types import TracebackType
from typing import Any, BinaryIO, Protocol, TypeVar

from ._errors import CheckpointNotFoundError, CorruptCheckpointError
from ._naming import temp_filename

__all__ = [
    "PRIVATE_MAP_MIN",
    "AtomicFile",
    "CommitOnExit",
    "CopyingSource",
    "Destination",
    "FileSystem",
    "LocalFileSystem",
    "LocalSource",
    "Sink",
    "Source",
    "atomic_write",
    "check_range",
    "create",
    "destination",
    "filesystem_for",
    "fsync_dir",
    "is_remote",
    "map_private",
    "read_private",
]

# `read_private` maps ranges of at least this many bytes privately and copies smaller ones.
# Below it, mmap + munmap + the page faults cost more than copying from the page cache: per
# read of a warm file and a touch of every page, copy vs map was 34 vs 66 us at 64 KiB,
# 75-86 vs 78-80 us at 1 MiB, 180-600 vs 30 us at 2 MiB (Linux 6.18 VM, 2 busy cores).
PRIVATE_MAP_MIN = 1 << 20


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
    """One readable file.

    A source may also have ``read_private(offset, length) -> memoryview``: exactly `length`
    bytes at `offset` in writable memory owned by that call alone. Where it does not (a
    `FileSystem` written before it existed), `read_private` below copies `read`'s bytes.
    A local one also has ``map_private() -> memoryview | None``: the whole file in writable
    memory owned by that call alone (see `LocalSource.map_private`).
    """

    path: str
    size: int

    def read(self, offset: int, length: int) -> memoryview | bytes:
        """Exactly `length` bytes at `offset`, zero-copy where the backend allows: possibly a
        read-only view shared with other reads (never memory that faults on write)."""
        ...

    def close(self) -> None: ...


def read_private(src: Source, offset: int, length: int) -> memoryview:
    """`src.read_private(...)` where the source has it; otherwise a copy of `src.read(...)`
    (a `FileSystem` written for an older protocol still hands out private arrays)."""
    own = getattr(src, "read_private", None)
    if own is not None:
        view: memoryview = own(offset, length)
        return view
    return memoryview(bytearray(src.read(offset, length)))


def map_private(src: Source) -> memoryview | None:
    """`src.map_private()` where the source has it (local files); otherwise None, and the
    caller reads each range with `read_private`."""
    own = getattr(src, "map_private", None)
    if own is None:
        return None
    view: memoryview | None = own()
    return view


class FileSystem(Protocol):
    """Paths and files of one storage. An implementation reading over a network also sets
    a class attribute ``remote = True`` (see `is_remote`)."""

    def exists(self, path: str) -> bool: ...
    def isdir(self, path: str) -> bool: ...
    def isfile(self, path: str) -> bool: ...
    def listdir(self, path: str) -> list[str]: ...
    def read_bytes(self, path: str, limit: int | None = None) -> bytes: ...
    def mtime(self, path: str) -> float:
        """When `path` was last modified, in seconds since the epoch."""
        ...

    def open_source(self, path: str) -> Source: ...
    def join(self, *parts: str) -> str: ...
    def dirname(self, path: str) -> str: ...


class Sink(Protocol):
    """A new file that appears at `path` complete or not at all (`AtomicFile`, `RemoteFile`).

    Bytes go to `file`. `close()` ends writing (locally: flush and fsync); `publish()` makes
    the file appear at `path` (it may change `path` before, e.g. once a shard count is
    known); `commit()` does both; `discard()` leaves nothing behind. As a context manager:
    commit on success, discard on an exception.
    """

    path: str
    file: BinaryIO

    def close(self) -> None: ...
    def publish(self) -> None: ...
    def commit(self) -> None: ...
    def discard(self) -> None: ...
    def __enter__(self) -> Sink: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class Destination(Protocol):
    """Where writers create and remove files: the local disk or a URL's store."""

    remote: bool

    def create(self, path: str, *, fsync: bool = True, buffering: int = -1) -> Sink: ...
    def remove(self, path: str) -> None:
        """Delete `path`; one that does not exist is no error."""
        ...

    def sync_dir(self, directory: str) -> None:
        """Make files published in `directory` durable (object stores: already are)."""
        ...

    def rename(self, source: str, target: str) -> None:
        """Move the complete file `source` to `target` in this store, replacing it (on a
        disk an atomic rename, the target's directory created first; in an object store a
        server-side copy, whole or not at all, then a delete)."""
        ...

    def exists(self, path: str) -> bool: ...
    def isdir(self, path: str) -> bool: ...
    def isfile(self, path: str) -> bool: ...
    def listdir(self, path: str) -> list[str]: ...
    def read_bytes(self, path: str, limit: int | None = None) -> bytes: ...
    def join(self, *parts: str) -> str: ...
    def dirname(self, path: str) -> str: ...


def filesystem_for(path: str, *, use_mmap: bool = True) -> tuple[FileSystem, str]:
    """The store `path` is read from and the path to use there: the local disk, or for a
    URL its fsspec store and the URL itself (`file://` is local)."""
    local = LocalFileSystem(use_mmap=use_mmap)
    if path.startswith("file://"):
        return local, path[len("file://") :]
    if "://" not in path:  # spares local reads the import of _remote (threads...)
        return local, path
    from ._remote import filesystem_for_url, is_url

    return filesystem_for_url(path) if is_url(path) else (local, path)


def destination(path: str | os.PathLike[str]) -> tuple[Destination, str]:
    """The store a writer puts `path` in and the path to use there: the local disk, or for
    a URL its fsspec store (see the module docstring; `file://` is local)."""
    p = os.fspath(path)
    if p.startswith("file://"):
        return LocalFileSystem(), p[len("file://") :]
    if "://" not in p:  # spares local writes the import of _remote
        return LocalFileSystem(), p
    from ._remote import destination_for_url

    return destination_for_url(p)


def sibling(path: str | os.PathLike[str], name: str) -> str:
    """The path of the file `name` beside `path`: in the same folder of the store a URL
    names (the URL kept), or on disk, absolute."""
    p = os.fspath(path)
    if "://" in p and not p.startswith("file://"):
        return posixpath.join(posixpath.dirname(p), name)
    return os.path.join(os.path.dirname(os.path.abspath(p.removeprefix("file://"))), name)


def create(path: str | os.PathLike[str], *, fsync: bool = True, buffering: int = -1) -> Sink:
    """A `Sink` for a new file at `path`, local or in the store a URL names."""
    dest, where = destination(path)
    return dest.create(where, fsync=fsync, buffering=buffering)


def is_remote(fs: FileSystem) -> bool:
    """Whether `fs` reads over a network, where fetching ahead in large ranges pays."""
    return bool(getattr(fs, "remote", False))


def same_store(a: Destination, b: Destination) -> bool:
    """Whether files of `a` and `b` live in one store, so that `rename` can move between
    them: both the local disk, or one fsspec filesystem object (fsspec gives the same
    object for the same protocol and options)."""
    return a.remote == b.remote and getattr(a, "fs", None) is getattr(b, "fs", None)


class LocalSource:
    """A local file: one private mapping for `read`, a new one per large `read_private`.

    The descriptor stays open, so a file replaced by rename keeps reading the old contents.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._f = _open_data_file(path)
        self.size = os.fstat(self._f.fileno()).st_size
        self._mm = _map(self._f.fileno(), 0, self.size)
        self._lock: Any = None
        if self._mm is not None:
            self._view = memoryview(self._mm).toreadonly()
        else:  # empty, or no mapping possible: `read` copies
            self._view = memoryview(b"")
            if self.size:
                import threading  # (rare: kept off the import path, like CopyingSource's)

                self._lock = threading.Lock()

    def read(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)
        if self._mm is None and length:
            return self._copy(offset, length).toreadonly()
        return self._view[offset : offset + length]

    def read_private(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)
        if length >= PRIVATE_MAP_MIN:
            # A mapping must start at a multiple of the allocation granularity.
            skip = offset % mmap.ALLOCATIONGRANULARITY
            mm = _map(self._f.fileno(), offset - skip, skip + length)
            if mm is not None:
                return memoryview(mm)[skip : skip + length]
        return self._copy(offset, length)

    def map_private(self) -> memoryview | None:
        """The whole file as a new private copy-on-write mapping, writable, the caller's own
        (None when the file is empty or the system refuses a mapping).

        For a caller that hands out many non-overlapping ranges at once (`load()`): one
        mapping instead of one per range. The mapping lives until the last view of it is
        released, and pages written through any view stay copied until then.
        """
        mm = _map(self._f.fileno(), 0, self.size)
        return memoryview(mm) if mm is not None else None

    def _copy(self, offset: int, length: int) -> memoryview:
        if self._mm is not None:
            return memoryview(bytearray(self._view[offset : offset + length]))
        return _read_into(self._f, self._lock, self.path, self.size, offset, length)

    def close(self) -> None:
        self._view.release()
        if self._mm is not None:
            try:
                self._mm.close()
            except BufferError:
                pass  # arrays still view the mapping; it is released with the last of them
            self._mm = None
        self._f.close()


def _map(fd: int, offset: int, length: int) -> mmap.mmap | None:
    """A private copy-on-write mapping of [offset, offset + length), or None when there is
    nothing to map or the system refuses one (ENOMEM past vm.max_map_count or a commit
    limit): callers then copy."""
    if length == 0:
        return None
    try:
        return mmap.mmap(fd, length, access=mmap.ACCESS_COPY, offset=offset)
    except OSError:
        return None


def _read_into(
    f: io.FileIO, lock: Any, path: str, size: int, offset: int, length: int
) -> memoryview:
    """`length` bytes at `offset` read into a new bytearray (a writable view of it). Seek and
    read are one operation under `lock`: readers may share a source across threads."""
    buf = bytearray(length)
    view = memoryview(buf)
    done = 0
    with lock:
        f.seek(offset)
        while done < length:
            n = f.readinto(view[done:])
            if not n:
                raise CorruptCheckpointError(
                    f"file shrank while open: {size} bytes when opened, a read at "
                    f"offset {offset + done} found nothing",
                    path=path,
                )
            done += n
    return view


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
        return _read_into(self._f, self._lock, self.path, self.size, offset, length)

    read_private = read  # every read is a new buffer already

    def close(self) -> None:
        self._f.close()


class LocalFileSystem:
    """The local disk. ``use_mmap=False``: data files are read into fresh buffers instead of
    mapped (see `CopyingSource`)."""

    def __init__(self, use_mmap: bool = True) -> None:
        self.use_mmap = use_mmap

    def exists(self, path: str) -> bool:
        return os.path.exists(path)

    def isdir(self, path: str) -> bool:
        return os.path.isdir(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def listdir(self, path: str) -> list[str]:
        return sorted(os.listdir(path))

    def mtime(self, path: str) -> float:
        return float(int(os.stat(path).st_mtime))  # whole seconds, as TF's POSIX file system

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
        return LocalSource(path)

    def join(self, *parts: str) -> str:
        return os.path.join(*parts)

    def dirname(self, path: str) -> str:
        return os.path.dirname(path)

    # -- writing (`Destination`) ---------------------------------------------------------

    remote = False

    def create(self, path: str, *, fsync: bool = True, buffering: int = -1) -> AtomicFile:
        return AtomicFile(path, fsync=fsync, buffering=buffering)

    def remove(self, path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass  # never there, or another process removed it first

    def sync_dir(self, directory: str) -> None:
        fsync_dir(directory)

    def rename(self, source: str, target: str) -> None:
        os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
        os.replace(source, target)


_S = TypeVar("_S", bound="CommitOnExit")


class CommitOnExit:
    """What every `Sink` does as a context manager: commit on success, discard on an
    exception, and discard when the commit itself fails."""

    def commit(self) -> None:
        raise NotImplementedError

    def discard(self) -> None:
        raise NotImplementedError

    def __enter__(self: _S) -> _S:
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


class AtomicFile(CommitOnExit):
    """A new local file that appears at `path` complete or not at all.

    Bytes go to `file`, a temporary file beside `path` (the directory is created if needed).
    `commit()` = `close()` (flush, fsync) + `publish()` (rename onto `path`) + fsync of the
    directory; a writer that renames several files in an order of its own calls `close()` and
    `publish()` itself and fsyncs the directory once. `discard()` removes the temporary file.
    As a context manager: commit on success, discard on an exception.
    """

    def __init__(self, path: str, *, fsync: bool = True, buffering: int = -1) -> None:
        if "://" in path:  # e.g. "s3://b/k" would become the local folder "s3:/b"
            raise ValueError(f"{path!r} is a URL, not a local path: write it with `create`")
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


def atomic_write(path: str, data: bytes, *, fsync: bool = True) -> None:
    """Replace `path` with `data` so readers see the old or the new content, never a mix."""
    with create(path, fsync=fsync) as out:
        out.file.write(data)
