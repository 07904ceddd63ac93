"""Checkpoints in remote storage (``s3://``, ``gs://``, ``https://``, any fsspec URL).

This is a storage-layer module: it implements the `FileSystem` and `Source` protocols of
`_storage` on top of an fsspec filesystem, so everything above it (paths, index, reader) is
unchanged. fsspec is an optional dependency (``pip install tfckpt-lite[remote]``), imported
only when a URL or an fsspec object is used.

What goes over the network:
  * opening: a few metadata requests (exists/size) and the `.index` file, which holds only
    the bundle's index blocks and footer; data files are not touched.
  * one tensor: exactly its byte range (`cat_file(path, start, end)`, an HTTP Range request).
  * `load()`: `prefetch_all` collects every entry's range per shard, merges neighbours whose
    gap is at most `COALESCE_GAP` into requests of at most `MAX_REQUEST` bytes, and fetches
    them on a thread pool, shards and chunks in parallel. Tensors are then zero-copy views
    of the fetched blocks.
Every range is checked against the file size before it is requested, and a short answer
from the server is a `CorruptCheckpointError`, never a silently short tensor.
"""

from __future__ import annotations

import bisect
import posixpath
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final

from ._errors import CheckpointNotFoundError, CorruptCheckpointError
from ._naming import SAVEDMODEL_VARIABLES, STATE_FILENAME, index_filename, is_bundle_file
from ._storage import check_range

__all__ = [
    "COALESCE_GAP",
    "MAX_REQUEST",
    "FsspecFileSystem",
    "FsspecSource",
    "coalesce",
    "filesystem_for_url",
    "is_url",
    "prefetch_all",
]

COALESCE_GAP: Final = 256 << 10  # fetching a small gap is cheaper than another round trip
MAX_REQUEST: Final = 32 << 20  # split big spans so one shard is fetched in parallel too
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


def filesystem_for_url(url: str) -> tuple[FsspecFileSystem, str]:
    """The filesystem for `url` and the path to use on it."""
    fs, path = _fsspec().core.url_to_fs(url)
    return FsspecFileSystem(fs), path


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


class FsspecSource:
    """One remote file: byte ranges on demand, plus blocks fetched ahead by `prefetch`."""

    def __init__(self, fs: Any, path: str, size: int) -> None:
        self._fs = fs
        self.path = path
        self.size = size
        self._starts: list[int] = []
        self._blocks: list[bytes] = []
        self._lock = threading.Lock()
        self.bytes_fetched = 0
        self.requests = 0

    def _fetch(self, start: int, end: int) -> bytes:
        try:
            data = self._fs.cat_file(self.path, start=start, end=end)
        except FileNotFoundError:
            raise CheckpointNotFoundError("data file does not exist", path=self.path) from None
        with self._lock:
            self.bytes_fetched += len(data)
            self.requests += 1
        if len(data) != end - start:
            raise CorruptCheckpointError(
                f"asked the server for bytes [{start}, {end}) and got {len(data)} bytes",
                path=self.path,
            )
        return bytes(data)

    def read(self, offset: int, length: int) -> memoryview:
        check_range(self.path, self.size, offset, length)
        if length == 0:
            return memoryview(b"")
        with self._lock:
            i = bisect.bisect_right(self._starts, offset) - 1
            if i >= 0:
                start, block = self._starts[i], self._blocks[i]
                if offset + length <= start + len(block):
                    return memoryview(block)[offset - start : offset - start + length]
        return memoryview(self._fetch(offset, offset + length))

    def prefetch(self, spans: Sequence[tuple[int, int]], pool: ThreadPoolExecutor) -> list[Any]:
        """Start fetching [start, end) spans on `pool`; returns the futures."""

        def get(span: tuple[int, int]) -> None:
            data = self._fetch(*span)
            with self._lock:
                i = bisect.bisect_right(self._starts, span[0])
                self._starts.insert(i, span[0])
                self._blocks.insert(i, data)

        return [pool.submit(get, s) for s in spans if 0 <= s[0] < s[1] <= self.size]

    def close(self) -> None:
        # Arrays already handed out keep their blocks alive; we only drop our references.
        with self._lock:
            self._starts.clear()
            self._blocks.clear()


class FsspecFileSystem:
    """The `FileSystem` protocol over an fsspec filesystem object."""

    remote = True

    def __init__(self, fs: Any) -> None:
        self.fs = fs
        protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
        self._http = protocol in ("http", "https")
        self.sources: list[FsspecSource] = []

    @property
    def bytes_fetched(self) -> int:
        """Data-file bytes fetched so far through sources opened here."""
        return sum(s.bytes_fetched for s in self.sources)

    def exists(self, path: str) -> bool:
        try:
            if self._http:
                # fsspec's HTTP exists() is a GET, which starts sending the whole file;
                # info() asks with HEAD.
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

    def open_source(self, path: str) -> FsspecSource:
        try:
            size = self.fs.size(path)
        except FileNotFoundError:
            raise CheckpointNotFoundError("data file does not exist", path=path) from None
        if size is None:
            raise CorruptCheckpointError("the server does not report the file size", path=path)
        src = FsspecSource(self.fs, path, int(size))
        self.sources.append(src)
        return src

    def join(self, *parts: str) -> str:
        return posixpath.join(*parts)

    def dirname(self, path: str) -> str:
        return posixpath.dirname(path)


def _quietly(fn: Any, *args: Any) -> Any:
    """fn(*args), or None when it raises a CheckpointError (reported later, by the reader)."""
    from ._errors import CheckpointError

    try:
        return fn(*args)
    except CheckpointError:
        return None


def prefetch_all(backend: Any) -> None:
    """Fetch every data byte a V2 bundle's entries point at, coalesced and in parallel.

    Ranges come from the index alone; invalid ones are left for the reader to report when
    the tensor is read (with its usual error naming the key).
    """
    from ._bundle import decode_entry

    fs = getattr(backend, "_fs", None)
    if not isinstance(fs, FsspecFileSystem):
        return
    entries = [_quietly(backend.entry, key) for key in backend.keys()]  # noqa: SIM118
    entries += [_quietly(decode_entry, raw) for raw in getattr(backend, "_slice_raw", {}).values()]
    n_shards = backend.header.num_shards
    per_shard: dict[int, list[tuple[int, int]]] = {}
    for e in entries:
        if e is None or e.slices or e.size <= 0 or not 0 <= e.shard_id < n_shards:
            continue
        per_shard.setdefault(e.shard_id, []).append((e.offset, e.size))
    # Sources are opened here, on one thread: the reader's source cache is not locked.
    sources = {shard: _quietly(backend._source, shard) for shard in per_shard}
    with ThreadPoolExecutor(max_workers=MAX_WORKERS) as pool:
        futures = []
        for shard, src in sources.items():
            if src is not None:
                futures += src.prefetch(coalesce(per_shard[shard]), pool)
        for f in futures:
            _quietly(f.result)  # a failed span is fetched again, and reported, by the read
