"""Reading a V2 tensor bundle: `P.index` plus `P.data-NNNNN-of-MMMMM` shards.

Strategy: the index is read whole and validated once (every block checksum, key order) and
its values are kept as raw bytes; an entry is parsed the first time its key is asked for.
Data shards are opened (memory-mapped) only when a tensor in them is read. For each tensor
everything the index claims is validated against the shard before NumPy sees a byte: shape,
dtype, size = elements x itemsize, offset + size within the file, then the CRC over the file
bytes, and only then a `frombuffer` array over the source's private bytes for this call
(`read_private`: a copy-on-write mapping of the tensor, or a copy), or a copy when the data
must be byte swapped or is misaligned for its dtype. Every array returned is writable and
private, as TensorFlow's are; with ``readonly=True`` arrays are instead read-only views of the
shard's one shared mapping (`Source.read`), the fastest way to scan a checkpoint.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._bundle import (
    Entry,
    EntryColumns,
    Info,
    check_header,
    check_shape,
    decode_entry,
    decode_header,
    decode_info,
    decode_infos,
)
from ._coding import crc32c, crc32c_many, unmask_crc, unmask_crcs
from ._dtypes import DType
from ._errors import (
    CheckpointError,
    ChecksumMismatchError,
    CorruptCheckpointError,
    TensorNotFoundError,
    UnsupportedCheckpointError,
    _with_context,
)
from ._gcpause import gc_paused
from ._naming import data_filename, decode_key, encode_key, index_filename
from ._ordered_code import encode_slice_key
from ._slices import Box, box_region, box_shape, check_coverage, check_no_overlap, slice_box
from ._storage import (
    PRIVATE_MAP_MIN,
    FileSystem,
    Source,
    is_remote,
    map_private,
    read_private,
)
from ._table import read_table_columns
from ._tensor_codec import decode_strings, decode_variants

__all__ = ["BundleReader"]

_INTP_MAX = int(np.iinfo(np.intp).max)  # NumPy's largest array, in bytes (asked once)

_DTYPE, _SHAPE = operator.itemgetter(0), operator.itemgetter(1)
# `read_many` copies small tensors that lie close together in a data file in runs of about
# this many bytes (a kept array keeps its run alive) ...
_BULK_RUN = 1 << 18
# ... bridging gaps of up to this many bytes between them.
_BULK_GAP = 4096


class BundleReader:
    """The V2 backend behind `CheckpointReader`."""

    format = "v2"

    def __init__(self, prefix: str, fs: FileSystem, *, readonly: bool = False) -> None:
        self.prefix = prefix
        self.index_path = index_filename(prefix)
        self.remote = is_remote(fs)
        self._fs = fs
        self._readonly = readonly
        raw = fs.read_bytes(self.index_path)
        with gc_paused():
            self._open_index(raw)
        self._sources: dict[int, Source] = {}
        self.index_size = len(raw)

    def _open_index(self, raw: bytes) -> None:
        try:
            table = read_table_columns(raw)
            keys = table.keys
            if not keys or keys[0] != "":
                raise CorruptCheckpointError(
                    "failed to seek to header entry: the index has no bundle header"
                )
            buf, starts, ends = table.buf, table.value_start, table.value_end
            self.header = decode_header(buf[int(starts[0]) : int(ends[0])])
            check_header(self.header)
        except CheckpointError as e:
            raise _with_context(e, path=self.index_path) from None
        # Keys are sorted bytewise, so the slice keys (a NUL byte first) all come right after
        # the header; the rest are tensor names. The table gives keys one character per
        # byte; names that are not ASCII are decoded as `_naming.decode_key` does.
        first = 1
        while first < len(keys) and keys[first][:1] == "\x00":
            first += 1
        self._slice_raw: dict[bytes, bytes] = {
            keys[i].encode("latin-1"): buf[int(starts[i]) : int(ends[i])] for i in range(1, first)
        }
        names = keys[first:]
        if not all(map(str.isascii, names)):
            names = [k if k.isascii() else _utf8_key(k) for k in names]
        self._keys = names
        self._rows_: dict[str, int] | None = None  # key -> row: made on first lookup
        self._buf = buf
        self._starts = starts[first:]
        self._ends = ends[first:]
        self._entries: dict[str, Entry] = {}
        self._infos: dict[bytes, Info] = {}
        self._decoded: tuple[list[Info], EntryColumns] | None = None

    @property
    def _rows(self) -> dict[str, int]:
        if self._rows_ is None:
            with gc_paused():
                self._rows_ = dict(zip(self._keys, range(len(self._keys))))
        return self._rows_

    def _raw(self, key: str) -> bytes:
        row = self._rows.get(key)
        if row is None:
            raise TensorNotFoundError(
                f"Key {key} not found in checkpoint", path=self.index_path, key=key
            )
        return self._buf[int(self._starts[row]) : int(self._ends[row])]

    # -- metadata -------------------------------------------------------------------------

    def keys(self) -> list[str]:
        return list(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def entry(self, key: str) -> Entry:
        e = self._entries.get(key)
        if e is not None:
            return e
        raw = self._raw(key)
        try:
            e = decode_entry(raw)
            check_shape(e.shape, e.unknown_rank)
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None
        self._entries[key] = e
        return e

    def info(self, key: str) -> tuple[DType, tuple[int, ...]]:
        raw = self._raw(key)
        try:
            return decode_info(raw, self._infos)
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None

    def infos(self) -> list[tuple[str, DType, tuple[int, ...]]]:
        """(key, dtype, shape) of every tensor in key order: `info` for all keys at once."""
        with gc_paused():
            infos, _ = self._columns(values=False)
            return list(zip(self._keys, map(_DTYPE, infos), map(_SHAPE, infos)))

    def shapes(self) -> list[tuple[int, ...]]:
        with gc_paused():
            infos, _ = self._columns(values=False)
            return list(map(_SHAPE, infos))

    def _columns(self, *, values: bool) -> tuple[list[Info], EntryColumns]:
        """Every entry decoded at once (`decode_infos`), kept for later calls; `values`: with
        the shard, offset, size and checksum columns (`read_many` needs them)."""
        if self._decoded is None or (values and not len(self._decoded[1].size) and self._keys):
            try:
                self._decoded = decode_infos(
                    self._buf, self._starts, self._ends, self._infos, values=values
                )
            except CheckpointError:
                for key in self._keys:
                    self.info(key)  # raises the first entry's error, naming its key
                raise
        return self._decoded

    def data_paths(self) -> list[str]:
        return [
            data_filename(self.prefix, i, self.header.num_shards)
            for i in range(min(self.header.num_shards, 1 << 16))
        ]

    # -- values ---------------------------------------------------------------------------

    def read(self, key: str, *, verify: bool = True) -> np.ndarray[Any, Any]:
        """The value of `key`: a writable array of its own (read-only with ``readonly``)."""
        e = self.entry(key)
        try:
            if e.slices:
                arr = self._assemble(key, e, verify)
            else:
                arr = self._read_plain(e, e.shape, verify, private=not self._readonly)
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None
        if self._readonly:
            arr.flags.writeable = False
        return arr

    def read_many(self, keys: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """`read(key)` of every key (what `load()` returns), checksums verified.

        Large plain tensors (at least `PRIVATE_MAP_MIN` bytes) are views of one private
        copy-on-write mapping per data file made for this call alone (`map_private`), not
        of one mapping each: each byte range goes to one array only (an entry overlapping
        another's bytes takes `read`), so the arrays are writable and never alias each other,
        another call or the file. Their checksums are computed together at the end, on two
        threads where that pays (`crc32c_many`). Small ones are read in bulk before, copied a
        run of neighbours at a time (`_read_small`). Errors are those a loop over `read`
        raises: the first bad key in `keys` order.
        """
        done = {} if self._readonly or self.header.big_endian else self._read_small(keys)
        bulk: list[tuple[str, Entry]] = []
        key = ""
        try:
            for key in keys:
                if key in done:
                    continue
                e = self.entry(key)
                if self._bulk_readable(e):
                    self._check_plain(e, e.shape)
                    bulk.append((key, e))
                else:
                    done[key] = self.read(key)
        except CheckpointError as err:
            for k, _ in bulk:  # an earlier tensor's damage comes first, as in a loop
                self.read(k)
            raise _with_context(err, path=self.index_path, key=key) from None
        views = self._bulk_views(bulk)
        crcs = iter(crc32c_many([b for b in views.values() if b is not None]))
        for key, e in bulk:
            buf = views[key]
            if buf is None:
                done[key] = self.read(key)
                continue
            actual = next(crcs)
            if actual != unmask_crc(e.crc32c):
                bad = _crc_mismatch(e, actual, self._source(e.shard_id).path)
                raise _with_context(bad, path=self.index_path, key=key) from None
            np_dtype = e.dtype_info.numpy_dtype
            assert np_dtype is not None
            arr = np.frombuffer(buf, np_dtype).reshape(e.shape)
            if self._readonly:
                arr.flags.writeable = False
            done[key] = arr
        return {k: done[k] for k in keys}

    def _bulk_readable(self, e: Entry) -> bool:
        """Whether `read_many` may hand out `e` as a view of the file's bytes as they are."""
        dt = e.dtype_info
        np_dtype = dt.numpy_dtype
        return (
            not e.slices
            and np_dtype is not None
            and dt.is_fixed_size
            and e.size >= PRIVATE_MAP_MIN
            and not (self.header.big_endian and dt.swap_width > 1)
            and e.offset % np_dtype.alignment == 0
        )

    def _bulk_views(self, bulk: list[tuple[str, Entry]]) -> dict[str, memoryview | None]:
        """The bytes of each checked entry of `bulk`, in `bulk`'s order: read-only views of
        the shared mapping with ``readonly``, else views of one private mapping per data file
        made here. None for an entry whose bytes overlap another's: it is read on its own."""
        views: dict[str, memoryview | None] = {}
        mapped: dict[int, memoryview | None] = {}
        end: dict[int, int] = {}  # shard -> end of the last range handed out
        for key, e in sorted(bulk, key=lambda b: (b[1].shard_id, b[1].offset)):
            src = self._source(e.shard_id)
            if self._readonly:
                views[key] = memoryview(src.read(e.offset, e.size))
                continue
            if e.offset < end.get(e.shard_id, 0):
                views[key] = None
                continue
            end[e.shard_id] = e.offset + e.size
            if e.shard_id not in mapped:
                mapped[e.shard_id] = map_private(src)
            whole = mapped[e.shard_id]
            if whole is not None:
                views[key] = whole[e.offset : e.offset + e.size]
            else:
                views[key] = read_private(src, e.offset, e.size)
        return {k: views[k] for k, _ in bulk}

    def _read_small(self, keys: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """The arrays of the small, plain, well-formed tensors among `keys`.

        Neighbours in a data file are copied in one piece (a run), each checked against its
        own CRC32C and handed out as its own array over its own bytes of that copy: writable,
        never overlapping another array, another call or the file. Everything `_check_plain`
        checks is checked here for all rows at once; a row that fails any of it, or its
        checksum, is simply not in the result (`read` then reports it)."""
        with gc_paused():
            try:
                _, cols = self._columns(values=True)
                rows = np.fromiter(map(self._rows.__getitem__, keys), np.int64, len(keys))
            except (CheckpointError, KeyError):
                return {}  # `read` reports it, for the key it concerns
            # Per distinct (dtype, shape): its NumPy dtype, bytes and alignment, or nbytes 0
            # for what the bulk path leaves to `read` (strings, opaque and empty tensors).
            kinds = [self._infos[h] for h in cols.heads]
            dts = [dt.numpy_dtype for dt, _ in kinds]
            shapes = [shape for _, shape in kinds]
            nbytes = np.zeros(len(kinds) + 1, np.int64)  # the last slot: rows without a head
            align = np.ones(len(kinds) + 1, np.int64)
            for i, (dt, shape) in enumerate(kinds):
                npd = dts[i]
                if npd is not None and dt.is_fixed_size:
                    nbytes[i] = check_shape(shape) * dt.itemsize
                    align[i] = npd.alignment
            head = cols.head[rows]
            head[head < 0] = len(kinds)
            size, offset, shard = cols.size[rows], cols.offset[rows], cols.shard_id[rows]
            crc = cols.crc32c[rows]
            take = (nbytes[head] == size) & (size > 0) & (size < _BULK_RUN) & (offset >= 0)
            take &= (shard >= 0) & (shard < self.header.num_shards)
            out: dict[str, np.ndarray[Any, Any]] = {}
            for s in np.unique(shard[take]).tolist():
                src = self._source(s)
                sel = np.flatnonzero(take & (shard == s) & (offset + size <= src.size))
                sel = sel[np.argsort(offset[sel], kind="stable")]
                start, end = offset[sel], offset[sel] + size[sel]
                # Tensors whose bytes overlap another's are left to `read` (each array
                # must own its bytes).
                alone = np.ones(len(sel), bool)
                if len(sel) > 1:
                    alone[1:] = start[1:] >= np.maximum.accumulate(end)[:-1]
                    alone[:-1] &= end[:-1] <= start[1:]
                sel, start, end = sel[alone], start[alone], end[alone]
                if not len(sel):
                    continue
                # Runs: neighbours at most _BULK_GAP apart, about _BULK_RUN bytes each; a
                # run's copy starts 16-byte aligned, so arrays keep their file alignment.
                cut = np.ones(len(sel), bool)
                cut[1:] = (start[1:] - end[:-1] > _BULK_GAP) | (
                    start[1:] // _BULK_RUN != start[:-1] // _BULK_RUN
                )
                run_start = start[cut] & ~15
                run_end = np.append(end[np.flatnonzero(cut)[1:] - 1], end[-1])
                base = run_start[np.cumsum(cut) - 1]
                rel_start, rel_end = (start - base).tolist(), (end - base).tolist()
                names = [keys[i] for i in sel.tolist()]
                views = [(dts[k], shapes[k]) for k in head[sel].tolist()]
                misaligned = (start % align[head[sel]] != 0).tolist()
                want = unmask_crcs(crc[sel]).tolist()
                bounds = [*np.flatnonzero(cut).tolist(), len(sel)]
                for lo, hi, r0, r1 in zip(bounds, bounds[1:], run_start.tolist(), run_end.tolist()):
                    run = np.empty(r1 - r0, np.uint8)
                    run[:] = np.frombuffer(src.read(r0, r1 - r0), np.uint8)
                    mv = run.data
                    for name, a, b, (dt, shape), w, mis in zip(
                        names[lo:hi],
                        rel_start[lo:hi],
                        rel_end[lo:hi],
                        views[lo:hi],
                        want[lo:hi],
                        misaligned[lo:hi],
                    ):
                        if crc32c(mv[a:b]) == w:
                            arr = np.ndarray(shape, dt, run, a)
                            out[name] = arr.copy() if mis else arr
            return out

    def read_rows(self, key: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        """Rows [start, stop) of the leading axis, reading only their bytes where possible.

        A partial read cannot be checked against the whole tensor's CRC; this path skips it.
        """
        e = self.entry(key)
        dt = e.dtype_info
        if e.slices or not dt.is_fixed_size or self.header.big_endian or not e.shape:
            return self.read(key)[start:stop]
        try:
            self._check_plain(e, e.shape)
            row = check_shape(e.shape[1:]) * dt.itemsize
            src = self._source(e.shard_id)
            offset, length = e.offset + start * row, (stop - start) * row
            buf = src.read(offset, length) if self._readonly else read_private(src, offset, length)
            assert dt.numpy_dtype is not None
            arr = np.frombuffer(buf, dt.numpy_dtype)
            if not arr.flags.aligned:
                arr = arr.copy()
            if self._readonly:
                arr.flags.writeable = False
            return arr.reshape((stop - start, *e.shape[1:]))
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None

    def byte_ranges(self, key: str) -> list[tuple[Source, int, int]]:
        """The (data file, offset, size) ranges reading `key` touches, for reading ahead.

        An entry that does not decode gives none: its read reports the error, with context.
        """
        try:
            e = self.entry(key)
            parts = [e]
            if e.slices:
                name = encode_key(key)
                parts = [decode_entry(self._slice_raw[encode_slice_key(name, x)]) for x in e.slices]
            return [
                (self._source(p.shard_id), p.offset, p.size)
                for p in parts
                if p.size > 0 and 0 <= p.shard_id < self.header.num_shards
            ]
        except (CheckpointError, KeyError):
            return []

    def read_variant_protos(self, key: str, *, verify: bool = True) -> list[bytes]:
        e = self.entry(key)
        if e.dtype_info.name != "variant" or e.slices:
            raise TypeError(f"{key!r} is not an unpartitioned DT_VARIANT tensor")
        try:
            n = self._check_plain(e, e.shape, opaque_ok=True)
            src = self._source(e.shard_id)
            buf = src.read(e.offset, e.size)
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None
        try:
            return decode_variants(buf, n, e.crc32c, verify=verify)
        except CheckpointError as err:
            # The index was read and checked whole; what fails here is the shard's bytes.
            raise _with_context(err, path=src.path, key=key) from None

    def stored_size(self, key: str) -> int:
        """Bytes of the tensor's value in the data files (its slices' for a partitioned one)."""
        e = self.entry(key)
        if not e.slices:
            return e.size
        name = encode_key(key)
        total = 0
        try:
            for extents in e.slices:
                raw = self._slice_raw.get(encode_slice_key(name, extents))
                total += decode_entry(raw).size if raw is not None else 0
        except CheckpointError as err:
            raise _with_context(err, path=self.index_path, key=key) from None
        return total

    def verify_tensor(self, key: str) -> None:
        """Check one tensor's checksum (a DT_VARIANT's too; a DT_RESOURCE has no value)."""
        e = self.entry(key)
        if e.dtype_info.name == "variant" and not e.slices:
            self.read_variant_protos(key)
        elif e.dtype_info.name != "resource":
            self.read(key, verify=True)

    def close(self) -> None:
        for src in self._sources.values():
            src.close()
        self._sources.clear()

    # -- internals ------------------------------------------------------------------------

    def _source(self, shard: int) -> Source:
        src = self._sources.get(shard)
        if src is None:
            path = data_filename(self.prefix, shard, self.header.num_shards)
            src = self._fs.open_source(path)
            self._sources[shard] = src
        return src

    def _check_plain(self, e: Entry, shape: tuple[int, ...], *, opaque_ok: bool = False) -> int:
        """Validate a data-bearing entry against its dtype and shard; return its element count.

        `opaque_ok` lets DT_VARIANT through for checksum verification of its raw payload.
        """
        dt = e.dtype_info
        if dt.numpy_dtype is None and not (opaque_ok and dt.name == "variant"):
            if dt.name in ("variant", "resource"):
                raise UnsupportedCheckpointError(
                    f"reading DT_{dt.name.upper()} values is not supported "
                    f"(the tensor is listed, but its value is an opaque TensorFlow object)"
                )
            raise UnsupportedCheckpointError(f"unknown dtype enum {e.dtype}")
        n = check_shape(shape)
        _check_numpy_shape(shape, dt)
        if not 0 <= e.shard_id < self.header.num_shards:
            raise CorruptCheckpointError(
                f"shard_id {e.shard_id} out of range for num_shards {self.header.num_shards}"
            )
        if e.offset < 0 or e.size < 0:
            raise CorruptCheckpointError(f"negative offset {e.offset} or size {e.size}")
        if dt.is_fixed_size and e.size != n * dt.itemsize:
            raise CorruptCheckpointError(
                f"invalid size in bundle entry: stored size {e.size}; "
                f"expected size {n * dt.itemsize} for {dt.name}{list(shape)}"
            )
        if not dt.is_fixed_size and e.size < n:
            # TF's loose check: every element takes at least its 1-byte length. With the
            # file-size check below it bounds n by the file, before anything is allocated.
            raise CorruptCheckpointError(
                f"invalid size in bundle entry: stored size {e.size}; expected size is at "
                f"least {n} for {dt.name}{list(shape)}"
            )
        src = self._source(e.shard_id)
        if e.offset + e.size > src.size:
            raise CorruptCheckpointError(
                f"entry ({e.size} bytes at offset {e.offset}) runs past the end of its data "
                f"file ({src.size} bytes): the data file is truncated or the index is wrong",
                path=src.path,
            )
        return n

    def _read_plain(
        self, e: Entry, shape: tuple[int, ...], verify: bool, *, private: bool
    ) -> np.ndarray[Any, Any]:
        """One stored tensor. `private`: the array is a view of bytes read for this call alone
        (what callers get); else it may view shared read-only memory (to be copied from)."""
        n = self._check_plain(e, shape)
        dt = e.dtype_info
        src = self._source(e.shard_id)
        np_dtype = dt.numpy_dtype
        swap = self.header.big_endian and dt.swap_width > 1
        # Byte-swapped, misaligned and string values are decoded into new arrays: no need for
        # private bytes then.
        owned = private and dt.is_fixed_size and n > 0 and not swap
        owned = owned and np_dtype is not None and e.offset % np_dtype.alignment == 0
        buf = read_private(src, e.offset, e.size) if owned else src.read(e.offset, e.size)
        if not dt.is_fixed_size:
            try:
                strings = decode_strings(
                    buf, n, e.crc32c, big_endian=self.header.big_endian, verify=verify
                )
            except CheckpointError as err:
                # The index was read and checked whole; what fails here is the shard's bytes.
                raise _with_context(err, path=src.path) from None
            return strings.reshape(shape)
        if verify:
            actual = crc32c(buf)
            if actual != unmask_crc(e.crc32c):
                raise _crc_mismatch(e, actual, src.path)
        assert np_dtype is not None
        if n == 0:
            return np.zeros(shape, np_dtype)
        if swap:
            w = dt.swap_width
            swapped = np.frombuffer(buf, np.dtype(f">u{w}")).astype(f"<u{w}")
            return swapped.view(np_dtype).reshape(shape)
        arr = np.frombuffer(buf, np_dtype, count=n)
        if not arr.flags.aligned or (private and not owned):
            arr = arr.copy()
        return arr.reshape(shape)

    def _assemble(self, key: str, e: Entry, verify: bool) -> np.ndarray[Any, Any]:
        """A partitioned tensor, put together from its slice entries."""
        dt = e.dtype_info
        if dt.numpy_dtype is None:
            self._check_plain(e, e.shape)
        _check_numpy_shape(e.shape, dt)
        name = encode_key(key)
        parts: list[tuple[tuple[slice, ...], Entry, tuple[int, ...]]] = []
        boxes: list[Box] = []
        for extents in e.slices:
            box = slice_box(extents, e.shape)
            shape = box_shape(box)
            boxes.append(box)
            raw = self._slice_raw.get(encode_slice_key(name, extents))
            if raw is None:
                raise CorruptCheckpointError(f"slice {extents} is listed but has no entry")
            se = decode_entry(raw)
            if se.dtype != e.dtype or se.shape != shape:
                raise CorruptCheckpointError(
                    f"slice {extents} is stored as {se.dtype_info.name}{list(se.shape)}, "
                    f"expected {dt.name}{list(shape)}"
                )
            self._check_plain(se, shape)
            parts.append((box_region(box), se, shape))
        # The slices' data in the shards has vouched for their sizes: the checks' memory is
        # bounded by the data files.
        check_coverage(e.shape, boxes)
        check_no_overlap(boxes)
        assert dt.numpy_dtype is not None
        out = np.empty(e.shape, dt.numpy_dtype)
        for region, se, shape in parts:
            out[region] = self._read_plain(se, shape, verify, private=False)
        return out


def _utf8_key(key: str) -> str:
    """A key given one character per byte, as `_naming.decode_key` decodes its bytes."""
    return decode_key(key.encode("latin-1"))


def _crc_mismatch(e: Entry, actual: int, path: str) -> ChecksumMismatchError:
    return ChecksumMismatchError(
        f"checksum does not match in shard {e.shard_id} ({e.size} bytes at offset "
        f"{e.offset}): stored {unmask_crc(e.crc32c):08d} vs. calculated on the "
        f"restored bytes {actual:08d}",
        path=path,
    )


def _check_numpy_shape(shape: tuple[int, ...], dt: DType) -> None:
    """Refuse shapes TF allows but NumPy cannot hold: an empty tensor whose other dimensions
    multiply past the address space (e.g. [0, 2**61]) makes NumPy raise a bare ValueError."""
    nbytes = dt.itemsize or 8
    for d in shape:
        if d:
            nbytes *= d
    if nbytes > _INTP_MAX:
        raise UnsupportedCheckpointError(
            f"shape {list(shape)} of {dt.name} is valid for TensorFlow but too large for NumPy"
        )
