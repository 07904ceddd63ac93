"""Checkpoints in remote storage (``s3://``, ``gs://``, ``https://``, any fsspec URL).

This is a storage-layer module: it implements the `FileSystem` and `Source` protocols of
`_storage` on top of an fsspec filesystem, so everything above it (paths, index, reader) is
unchanged. fsspec is an optional dependency (``pip install tfckpt-lite[remote]``), imported
only when a URL or an fsspec object is used.

What goes over the network:
  * opening: a few metadata requests (exists/size) and the `.index` file, which holds only
    the bundle's index blocks and footer; data files are not touched.
  * one tensor: exactly its byte range (`cat_file(path, start, end)`, an HTTP Range request).
  * many tensors (`load()`, conversions): `read_ahead` collects their ranges per shard,
    merges neighbours whose gap is at most `COALESCE_GAP` into requests of at most
    `MAX_REQUEST` bytes, and fetches them `MAX_WORKERS` at a time while the tensors already
    fetched are decoded; a bounded window keeps conversions streaming.
Returned memory is always the caller's own: fetched bytes are copied once (off the GIL)
into a private, writable buffer, and a range fetched ahead is handed out once.
Every range is checked against the file size before it is requested, and a short answer
from the server is a `CorruptCheckpointError`, never a silently short tensor.
"""

from __future__ import annotations

import bisect
import itertools
import mmap
import posixpath
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Protocol

import numpy as np

from ._errors import CheckpointNotFoundError, CorruptCheckpointError
from ._naming import SAVEDMODEL_VARIABLES, STATE_FILENAME, index_filename, is_bundle_file
from ._storage import CommitOnExit, Source, check_range

__all__ = [
    "COALESCE_GAP",
    "MAX_REQUEST",
    "FsspecFileSystem",
    "FsspecSource",
    "RemoteFile",
    "coalesce",
    "destination_for_url",
    "filesystem_for_url",
    "is_url",
    "read_ahead",
]

COALESCE_GAP: Final = 256 << 10  # fetching a small gap is cheaper than another round trip
# Requests are split at this size so one shard is fetched in parallel too. Smaller costs more
# round trips; larger costs more: each answer is assembled in a buffer of its own by the HTTP
# client, and past glibc's largest mmap threshold (32 MiB) those are fresh pages every time,
# which on the VMs measured cost as much as the transfer (1 GiB at 20 ms per request: 8 MiB
# requests reached 0.8x a raw download's throughput, 32 MiB ones 0.4x).
MAX_REQUEST: Final = 8 << 20
MAX_WORKERS: Final = 8

_URL_RE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(path: str) -> bool:
    """Whether `path` names remote storage (``scheme://...``; ``file://`` counts as local)."""
    return bool(_URL_RE.match(path)) and not path.startswith("file://")


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise ImportError(
            "reading checkpoints from URLs needs fsspec: pip install 'tfckpt-lite[remote]' "
            "(plus s3fs for s3://, gcsfs for gs://)"
        ) from None
    return fsspec


def filesystem_for_url(url: str, *, to: str = "read") -> tuple[FsspecFileSystem, str]:
    """The filesystem for `url`, and `url` itself as the path to use on it: fsspec takes a
    URL wherever it takes its own bare paths, and paths derived from the URL (data files,
    state files) then name it in what callers return and in every message, not a bare key
    that reads like a local path. A URL that no installed fsspec filesystem serves is an
    error naming it (and the extra that adds its filesystem), said as "cannot <to> <url>"."""
    scheme = url.split("://", 1)[0]
    fsspec = _fsspec()
    try:
        fs, _ = fsspec.core.url_to_fs(url)
    except ImportError as e:  # fsspec knows the store, its package is not installed
        extra = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs"}.get(scheme)
        hint = f" (pip install 'tfckpt-lite[{extra}]')" if extra else ""
        raise ImportError(f"cannot {to} {url!r}{hint}: {e}") from None
    except ValueError as e:  # fsspec: "Protocol not known"
        raise ValueError(f"cannot {to} {url!r}: {e}") from None
    return FsspecFileSystem(fs), url


def coalesce(
    ranges: Sequence[tuple[int, int]], gap: int = COALESCE_GAP, limit: int = MAX_REQUEST
) -> list[tuple[int, int]]:
    """Merge (offset, length) ranges into [start, end) spans: neighbours closer than `gap`
    join, spans stop growing at `limit` bytes (a single larger range stays whole)."""
    spans: list[tuple[int, int]] = []
    for off, n in sorted((o, n) for o, n in ranges if n > 0):
        end = off + n
        if spans:
            s, e = spans[-1]
            if off <= e + gap and max(e, end) - s <= limit:
                spans[-1] = (s, max(e, end))
                continue
            if off < e:  # overlapping but too big to merge: fetch only the new tail
                if end <= e:
                    continue
                off = e
        spans.append((off, end))
    return spans


def _buffer(n: int) -> np.ndarray[Any, Any]:
    """`n` writable bytes of our own for fetched data. Large ones are anonymous mappings:
    NumPy asks for transparent huge pages on its big allocations, and on the VMs measured
    the first touch of those (the kernel compacting memory to find huge pages) made the
    first `load()` of 1 GiB in a process 3x slower (9.5 s against 2.9 s)."""
    if n < 1 << 20:
        return np.empty(n, np.uint8)
    return np.frombuffer(mmap.mmap(-1, n), np.uint8)


class _Span:
    """One coalesced [start, end) range of a data file, fetched ahead into a private, writable
    buffer, in parts of at most `limit` bytes on the pool (so one huge tensor is fetched in
    parallel too)."""

    def __init__(
        self, src: FsspecSource, start: int, end: int, pool: ThreadPoolExecutor, limit: int
    ) -> None:
        self.start = start
        self.buf = _buffer(end - start)
        cuts = [*range(start, end, limit), end]
        self._parts = [
            pool.submit(src._fetch_into, a, b, self.buf[a - start : b - start])
            for a, b in itertools.pairwise(cuts)
        ]

    def ready(self) -> bool:
        """Wait for every part; False if one failed (the read then fetches, and reports)."""
        return all(f.exception() is None for f in self._parts)

    def cancel(self) -> None:
        for f in self._parts:
            f.cancel()


def _is_http(fs: object) -> bool:
    """Whether `fs` is fsspec's HTTPFileSystem (whose module is loaded if it is one)."""
    module = sys.modules.get("fsspec.implementations.http")
    cls = getattr(module, "HTTPFileSystem", None)
    return cls is not None and isinstance(fs, cls)


async def _http_head_status(fs: Any, url: str) -> int:
    """The status of a HEAD request for `url` (redirects followed), with fsspec's session."""
    session = await fs.set_session()
    async with session.head(fs.encode_url(url), allow_redirects=True, **fs.kwargs) as r:
        status: int = r.status
        return status


async def _http_range_into(fs: Any, url: str, start: int, out: memoryview) -> int:
    """GET ``len(out)`` bytes of `url` from `start` into `out` with fsspec's aiohttp session
    (its request options and error mapping, as its `cat_file`), chunk by chunk as they
    arrive; return how many bytes came. A longer answer (a server ignoring the range) stops
    at the first chunk past the end, and its count says so."""
    kw = dict(fs.kwargs)
    headers = dict(kw.pop("headers", None) or {})
    headers["Range"] = f"bytes={start}-{start + len(out) - 1}"
    session = await fs.set_session()
    pos = 0
    async with session.get(fs.encode_url(url), headers=headers, **kw) as r:
        fs._raise_not_found_for_status(r, url)
        async for chunk in r.content.iter_any():
            n = len(chunk)
            if pos + n > len(out):
                return pos + n
            out[pos : pos + n] = chunk
            pos += n
    return pos


class FsspecSource:
    """One remote file: byte ranges on demand, or read ahead by `plan` in coalesced spans.

    Every read returns memory of its own: writable, private to the call. A range read ahead
    is handed out once; asking for it again fetches it again.
    """

    def __init__(self, fs: Any, path: str, size: int, *, http: bool = False) -> None:
        self._fs = fs
        self._http = http  # fsspec's HTTPFileSystem: range bodies are read into our buffers
        self.path = path
        self.size = size
        self._planned: dict[tuple[int, int], _Span] = {}
        self._lock = threading.Lock()
        self.bytes_fetched = 0
        self.requests = 0

    def _get(self, start: int, end: int) -> bytes:
        try:
            data = self._fs.cat_file(self.path, start=start, end=end)
        except FileNotFoundError:
            raise CheckpointNotFoundError("data file does not exist", path=self.path) from None
        self._received(start, end, len(data))
        return bytes(data)

    def _received(self, start: int, end: int, got: int) -> None:
        with self._lock:
            self.bytes_fetched += got
            self.requests += 1
        if got != end - start:
            raise CorruptCheckpointError(
                f"asked the server for bytes [{start}, {end}) and got {got} bytes",
                path=self.path,
            )

    def _fetch_into(self, start: int, end: int, out: np.ndarray[Any, Any]) -> None:
        fs = self._fs
        if self._http:
            # The body goes straight into `out` as it arrives: no copy of the whole answer.
            from fsspec.asyn import sync

            # Fault the fresh pages in here, off the GIL, not in fsspec's event-loop thread
            # (which receives for every request in flight) as it copies the body in.
            out[...] = 0
            try:
                got = sync(fs.loop, _http_range_into, fs, self.path, start, out.data)
            except FileNotFoundError:
                raise CheckpointNotFoundError("data file does not exist", path=self.path) from None
            self._received(start, end, got)
            return
        # NumPy copies without holding the GIL; the received bytes are freed right after.
        out[:] = np.frombuffer(self._get(start, end), np.uint8)

    def read(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)
        if length == 0:
            return memoryview(bytearray())
        with self._lock:
            span = self._planned.pop((offset, length), None)
        if span is not None and span.ready():
            return span.buf[offset - span.start : offset - span.start + length].data
        out = _buffer(length)
        self._fetch_into(offset, offset + length, out)
        return out.data

    read_private = read  # every read is the caller's already (see the class docstring)

    def plan(self, ranges: Sequence[tuple[int, int]], pool: ThreadPoolExecutor, limit: int) -> None:
        """Start fetching the (offset, length) `ranges` on `pool`, neighbours coalesced into
        requests of at most `limit` bytes (a larger range is fetched in parts of that size).

        A range overlapping an earlier one is left out (so no two reads share memory), as
        is one outside the file (its read reports it).
        """
        wanted: list[tuple[int, int]] = []
        end = -1
        for off, n in sorted(set(ranges)):
            if n > 0 and off >= end and off + n <= self.size:
                wanted.append((off, n))
                end = off + n
        spans = [_Span(self, a, b, pool, limit) for a, b in coalesce(wanted, limit=limit)]
        starts = [sp.start for sp in spans]
        with self._lock:
            for off, n in wanted:
                self._planned[(off, n)] = spans[bisect.bisect_right(starts, off) - 1]

    def unplan(self) -> None:
        """Forget ranges read ahead but not read (their memory goes with the last view)."""
        with self._lock:
            spans = list(self._planned.values())
            self._planned.clear()
        for sp in spans:
            sp.cancel()

    def close(self) -> None:
        self.unplan()


class RemoteFile(CommitOnExit):
    """A new object at `path`, uploaded as it is written (fsspec's buffered upload: parts of
    the store's block size, so memory stays near one block).

    Object stores have no rename, but their uploads are atomic: the object appears whole
    when the upload completes, never before. So the upload goes straight to `path` and only
    `publish()` completes it; `close()` does nothing, and `discard()` cancels the upload
    (a multipart or resumable upload is aborted, a small one was never sent). If `path` is
    changed before `publish()` (a writer learning its shard count at the end), the object is
    completed under its first name and moved server-side. `fsync` and `buffering` have no
    meaning here: a completed upload is durable.
    """

    def __init__(self, fs: Any, path: str) -> None:
        self.fs = fs
        self.path = self._key = path
        self.directory = posixpath.dirname(path)
        self.file = fs.open(path, "wb")
        self._open = True

    def close(self) -> None:
        pass  # completing the upload is what publishes: that waits for publish()

    def publish(self) -> None:
        assert self._open, "publish() after discard()"
        self._open = False
        self.file.close()
        if self.path != self._key:
            self.fs.mv(self._key, self.path)

    def commit(self) -> None:
        self.publish()

    def discard(self) -> None:
        """Cancel the upload; never raises (the object is not there either way)."""
        if not self._open:
            return
        self._open = False
        try:
            discard = getattr(self.file, "discard", None)
            if discard is not None:
                discard()
            # fsspec files complete their upload when closed, even from __del__.
            self.file.closed = True
        except Exception:  # a failed cancel leaves an unfinished upload, never an object
            pass


def destination_for_url(url: str) -> tuple[FsspecFileSystem, str]:
    """The store a URL names, for writing; refuses stores that take no writes."""
    scheme = url.split("://", 1)[0]
    if not is_url(url):
        raise ValueError(f"{url!r} is not a URL")
    if scheme in ("http", "https"):
        raise ValueError(
            f"cannot write to {url!r}: {scheme}:// servers take no uploads here; write to a "
            "local path or a bucket (s3://, gs://, ...)"
        )
    return filesystem_for_url(url, to="write to")


class FsspecFileSystem:
    """The `FileSystem` and `Destination` protocols over an fsspec filesystem object."""

    remote = True

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        # HTTP(S) paths are probed and read with HTTPFileSystem's own session (`_http_*`).
        self._http = _is_http(fs)
        self.sources: list[FsspecSource] = []

    @property
    def bytes_fetched(self) -> int:
        """Data-file bytes fetched so far through sources opened here."""
        return sum(s.bytes_fetched for s in self.sources)

    def exists(self, path: str) -> bool:
        try:
            if self._http:
                # fsspec's HTTP exists() is a GET, which starts sending the whole file;
                # info() asks with HEAD, and after any failure (404 too) asks again with
                # GET: a round trip more for every path probed while resolving. A 404 or
                # 410 answer to HEAD is final; anything else but success asks info().
                from fsspec.asyn import sync

                status = sync(self.fs.loop, _http_head_status, self.fs, path)
                if status in (404, 410):
                    return False
                if not 200 <= status < 300:
                    self.fs.info(path)
                return True
            return bool(self.fs.exists(path))
        except (FileNotFoundError, PermissionError):
            return False

    def isdir(self, path: str) -> bool:
        if self._http:
            # HTTP has no directories, and fsspec's isdir GETs the whole URL to look for
            # links (a data file!). A "directory" is a URL with a state file or SavedModel.
            if is_bundle_file(path):
                return False
            return self.exists(self.join(path, STATE_FILENAME)) or self.exists(
                index_filename(self.join(path, *SAVEDMODEL_VARIABLES))
            )
        try:
            return bool(self.fs.isdir(path))
        except (FileNotFoundError, PermissionError):
            return False

    def isfile(self, path: str) -> bool:
        if self._http:
            return not path.endswith("/") and self.exists(path)
        try:
            return bool(self.fs.isfile(path))
        except (FileNotFoundError, PermissionError):
            return False

    def listdir(self, path: str) -> list[str]:
        try:
            names = self.fs.ls(path, detail=False)
        except (FileNotFoundError, NotADirectoryError, ValueError):
            return []
        return sorted(posixpath.basename(str(n).rstrip("/")) for n in names)

    def read_bytes(self, path: str, limit: int | None = None) -> bytes:
        try:
            if limit is None:
                return bytes(self.fs.cat_file(path))
            size = self.fs.size(path)
            end = limit if size is None else min(limit, int(size))
            return bytes(self.fs.cat_file(path, start=0, end=end)) if end > 0 else b""
        except FileNotFoundError:
            raise CheckpointNotFoundError("file does not exist", path=path) from None
        except IsADirectoryError:
            raise CheckpointNotFoundError("expected a file, found a directory", path=path) from None

    def mtime(self, path: str) -> float:
        try:
            modified = self.fs.modified(path)
        except NotImplementedError:
            raise NotImplementedError(
                f"{type(self.fs).__name__} gives no modification times ({path!r})"
            ) from None
        return float(modified.timestamp())

    def open_source(self, path: str) -> FsspecSource:
        try:
            size = self.fs.size(path)
        except FileNotFoundError:
            raise CheckpointNotFoundError("data file does not exist", path=path) from None
        if size is None:
            raise CorruptCheckpointError("the server does not report the file size", path=path)
        src = FsspecSource(self.fs, path, int(size), http=self._http)
        self.sources.append(src)
        return src

    def create(self, path: str, *, fsync: bool = True, buffering: int = -1) -> RemoteFile:
        return RemoteFile(self.fs, path)

    def remove(self, path: str) -> None:
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass

    def sync_dir(self, directory: str) -> None:
        pass  # a completed upload is durable

    def rename(self, source: str, target: str) -> None:
        self.fs.mv(source, target)

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def dirname(self, path: str) -> str:
        return posixpath.dirname(path)


_Plan = tuple[str, list[tuple[FsspecSource, int, int]]]  # a key and the ranges it reads


class _Ranged(Protocol):
    """What `read_ahead` needs of a reader: `_backend.Backend.byte_ranges` (this module sits
    in the storage layer, below the readers)."""

    def byte_ranges(self, key: str) -> list[tuple[Source, int, int]]: ...


def read_ahead(backend: _Ranged, keys: Sequence[str], window: int | None = None) -> Iterator[str]:
    """Yield `keys` for reading while their bytes are fetched ahead: neighbouring ranges
    coalesced into requests of up to `MAX_REQUEST` bytes, `MAX_WORKERS` in flight.

    ``window=None``: every range is requested at once and keys come in data-file order, so
    each can be decoded (checksummed) as soon as its bytes arrive, while later ones are
    still in flight; the caller restores its own order. ``window=N``: keys come in the
    caller's order, in batches of about N bytes; the next batch is fetched while the current
    one is read, so fetched-but-unread data stays under about 2N bytes plus one tensor.
    Keys whose ranges cannot be planned (a damaged entry, a local or V1 backend) are simply
    read on demand, where any error is reported as usual.
    """
    plans: list[_Plan] = [
        (k, [(s, o, n) for s, o, n in backend.byte_ranges(k) if isinstance(s, FsspecSource)])
        for k in keys
    ]
    if not any(rs for _, rs in plans):
        yield from keys
        return
    if window is None:
        plans.sort(key=lambda p: (not p[1], [(src.path, off) for src, off, _ in p[1]]))
    batches: list[list[_Plan]] = [[]]
    size = 0
    for plan in plans:
        batches[-1].append(plan)
        size += sum(n for _, _, n in plan[1])
        if window is not None and size >= window:
            batches.append([])
            size = 0
    # Streaming: requests small enough that MAX_WORKERS of them fill the two windows; each
    # costs up to twice its size while the HTTP client assembles it.
    limit = MAX_REQUEST if window is None else max(1 << 20, min(MAX_REQUEST, window // 4))
    pool = ThreadPoolExecutor(MAX_WORKERS, thread_name_prefix="tfckpt-fetch")
    sources: set[FsspecSource] = set()

    def submit(batch: list[_Plan]) -> None:
        per_source: dict[FsspecSource, list[tuple[int, int]]] = {}
        for _, rs in batch:
            for src, off, n in rs:
                per_source.setdefault(src, []).append((off, n))
        for src, ranges in per_source.items():
            sources.add(src)
            src.plan(ranges, pool, limit)

    try:
        submit(batches[0])
        for i, batch in enumerate(batches):
            if i + 1 < len(batches):
                submit(batches[i + 1])
            for key, _ in batch:
                yield key
    finally:
        for src in sources:
            src.unplan()
        pool.shutdown(wait=False, cancel_futures=True)
