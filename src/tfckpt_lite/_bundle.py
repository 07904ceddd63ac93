"""The bundle's index values: the header under key "" and one entry per tensor key.

    BundleHeaderProto   1 num_shards int32, 2 endianness enum (LITTLE 0, BIG 1), 3 version
    VersionDef          1 producer int32, 2 min_consumer int32, 3 bad_consumers repeated int32
    BundleEntryProto    1 dtype, 2 shape, 3 shard_id int32, 4 offset int64, 5 size int64,
                        6 crc32c fixed32 (masked), 7 slices repeated TensorSliceProto
    TensorShapeProto    2 dim repeated {1 size int64, 2 name string}, 3 unknown_rank bool
    TensorSliceProto    1 extent repeated {1 start int64, 2 length int64 (in a oneof)}

Encoding follows C++ protobuf exactly, which is what byte-identical output needs: fields in
ascending number order, proto3 zero values left out, except that TF always writes `shape`
(a scalar's is the empty message `12 00`) and a oneof member is written even when it is 0.
A slice's full extent is an empty `Extent{}`; its stored form is (0, -1). The shape, slice
and version messages are also V1's (`_v1` decodes them with the functions here); what a
slice means is `_slices`'.
"""

from __future__ import annotations

import re
from typing import Any, Final

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._coding import decode_varint_words, decode_varints
from ._dtypes import DType, dtype_from_enum
from ._errors import CorruptCheckpointError, UnsupportedCheckpointError
from ._wire import (
    FIXED32,
    LEN,
    VARINT,
    field_bytes,
    field_fixed32,
    field_varint,
    iter_fields,
    signed64,
)

__all__ = [
    "MAX_RANK",
    "Entry",
    "EntryColumns",
    "Extent",
    "Header",
    "Versions",
    "check_shape",
    "check_versions",
    "decode_entry",
    "decode_entry_columns",
    "decode_header",
    "decode_info",
    "decode_infos",
    "decode_shape",
    "decode_slice",
    "decode_versions",
    "encode_entry",
    "encode_header",
]

TENSOR_BUNDLE_VERSION: Final = 1
MAX_RANK: Final = 254  # TensorShape's limit
_MAX_ELEMENTS: Final = (1 << 63) - 1

Extent = tuple[int, int]  # (start, length); length -1 means the whole dimension


class _Record:
    """A mutable record of the fields named in `__slots__`: compared field by field, shown
    with them, unhashable; what ``@dataclass`` makes, without its class-creation cost on
    every import (about half a millisecond per class, for modules every read loads)."""

    __slots__: tuple[str, ...] = ()
    __hash__ = None  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Header(_Record):
    __slots__ = (
        "bad_consumers",
        "big_endian",
        "has_version",
        "min_consumer",
        "num_shards",
        "producer",
    )

    def __init__(
        self,
        num_shards: int = 1,
        big_endian: bool = False,
        producer: int = TENSOR_BUNDLE_VERSION,
        min_consumer: int = 0,
        bad_consumers: list[int] | None = None,
        has_version: bool = True,
    ) -> None:
        self.num_shards = num_shards
        self.big_endian = big_endian
        self.producer = producer
        self.min_consumer = min_consumer
        self.bad_consumers: list[int] = [] if bad_consumers is None else bad_consumers
        self.has_version = has_version


class Entry(_Record):
    __slots__ = (
        "crc32c",
        "dtype",
        "offset",
        "shape",
        "shard_id",
        "size",
        "slices",
        "unknown_rank",
    )

    def __init__(
        self,
        dtype: int = 0,
        shape: tuple[int, ...] = (),
        shard_id: int = 0,
        offset: int = 0,
        size: int = 0,
        crc32c: int = 0,
        slices: list[list[Extent]] | None = None,
        unknown_rank: bool = False,
    ) -> None:
        self.dtype = dtype
        self.shape = shape
        self.shard_id = shard_id
        self.offset = offset
        self.size = size
        self.crc32c = crc32c
        self.slices: list[list[Extent]] = [] if slices is None else slices
        self.unknown_rank = unknown_rank

    @property
    def dtype_info(self) -> DType:
        return dtype_from_enum(self.dtype)


def decode_header(buf: bytes) -> Header:
    h = Header(num_shards=0, producer=0, has_version=False)
    versions = Versions()
    for f, wt, v, end in iter_fields(buf, 0, len(buf)):
        if f == 1 and wt == VARINT:
            h.num_shards = signed64(v)
        elif f == 2 and wt == VARINT:
            h.big_endian = v == 1
            if v not in (0, 1):
                raise CorruptCheckpointError(f"unknown endianness {v} in bundle header")
        elif f == 3 and wt == LEN:
            h.has_version = True
            versions = decode_versions(buf, v, end, versions)
    h.producer, h.min_consumer = versions.producer, versions.min_consumer
    h.bad_consumers = versions.bad_consumers
    return h


class Versions(_Record):
    """A VersionDef: who wrote the file and which readers it admits."""

    __slots__ = ("bad_consumers", "min_consumer", "producer")

    def __init__(
        self, producer: int = 0, min_consumer: int = 0, bad_consumers: list[int] | None = None
    ) -> None:
        self.producer = producer
        self.min_consumer = min_consumer
        self.bad_consumers: list[int] = [] if bad_consumers is None else bad_consumers


def decode_versions(buf: bytes, pos: int, end: int, into: Versions | None = None) -> Versions:
    """A VersionDef in buf[pos:end], merged into `into` (a repeated message merges, as in
    protobuf: a field it lacks keeps the earlier value)."""
    v = Versions() if into is None else into
    for f, wt, x, fend in iter_fields(buf, pos, end):
        if f == 1 and wt == VARINT:
            v.producer = signed64(x)
        elif f == 2 and wt == VARINT:
            v.min_consumer = signed64(x)
        elif f == 3 and wt == VARINT:
            v.bad_consumers.append(signed64(x))
        elif f == 3 and wt == LEN:
            packed, _ = decode_varints(buf, x, fend, what="packed varint")
            v.bad_consumers.extend(int(c) for c in packed.view(np.int64))
    return v


def check_versions(v: Versions, *, current: int, min_producer: int) -> None:
    """TF's CheckVersions: may a reader at version `current` read what `v` describes?"""
    if v.producer < min_producer:
        raise UnsupportedCheckpointError(
            f"checkpoint producer version {v.producer} below min producer {min_producer}"
        )
    if v.min_consumer > current:
        raise UnsupportedCheckpointError(
            f"checkpoint min consumer version {v.min_consumer} above current version "
            f"{current}; written by a newer TensorFlow"
        )
    if current in v.bad_consumers:
        raise UnsupportedCheckpointError(f"checkpoint disallows consumer version {current}")


def check_header(h: Header) -> None:
    """TF's CheckVersions for bundles (consumer 1, min producer 0), plus shard sanity."""
    check_versions(
        Versions(h.producer, h.min_consumer, h.bad_consumers),
        current=TENSOR_BUNDLE_VERSION,
        min_producer=0,
    )
    if h.num_shards < 0 or h.num_shards > 2**31 - 1:
        raise CorruptCheckpointError(f"invalid num_shards {h.num_shards} in bundle header")


def encode_header(h: Header) -> bytes:
    out = b""
    if h.num_shards:
        out += field_varint(1, h.num_shards)
    if h.big_endian:
        out += field_varint(2, 1)
    if h.has_version:
        version = b""
        if h.producer:
            version += field_varint(1, h.producer)
        if h.min_consumer:
            version += field_varint(2, h.min_consumer)
        if h.bad_consumers:
            packed = b"".join(field_varint(0, c)[1:] for c in h.bad_consumers)
            version += field_bytes(3, packed)
        out += field_bytes(3, version)
    return out


def decode_entry(buf: bytes) -> Entry:
    """Parse a BundleEntryProto. Structure only: `check_shape` validates the meaning."""
    e = Entry()
    dims: list[int] = []
    for f, wt, v, end in iter_fields(buf, 0, len(buf)):
        if wt == VARINT:
            if f == 1:
                e.dtype = signed64(v)
            elif f == 3:
                e.shard_id = signed64(v)
            elif f == 4:
                e.offset = signed64(v)
            elif f == 5:
                e.size = signed64(v)
        elif wt == LEN:
            if f == 2:
                e.unknown_rank = decode_shape(buf, v, end, dims) or e.unknown_rank
            elif f == 7:
                e.slices.append(decode_slice(buf, v, end))
        elif wt == FIXED32 and f == 6:
            e.crc32c = v
    e.shape = tuple(dims)
    return e


# The tail of an entry as TF writes it after the shape: optional shard_id, offset and size
# (varints of at most 9 bytes, so never negative and never overflowing) and the crc32c, in
# field order, and nothing else. Anything else (slices, negative numbers, unknown fields, fields
# out of order, a repeated shape that protobuf would merge) takes the general decoder.
_CANONICAL_TAIL: Final = re.compile(
    rb"(?:\x18[\x80-\xff]{0,8}[\x00-\x7f])?"
    rb"(?:\x20[\x80-\xff]{0,8}[\x00-\x7f])?"
    rb"(?:\x28[\x80-\xff]{0,8}[\x00-\x7f])?"
    rb"(?:\x35[\x00-\xff]{4})?",
)

Info = tuple[DType, tuple[int, ...]]


def decode_info(buf: bytes, cache: dict[bytes, Info]) -> Info:
    """(dtype, validated shape) of a BundleEntryProto: all that listing a checkpoint needs.

    Equal to `decode_entry` + `check_shape`, but an index of 100,000 entries has only a few
    distinct (dtype, shape) pairs: for an entry in TF's canonical form (dtype, shape, then only
    the fields `_CANONICAL_TAIL` allows) the bytes up to the end of the shape are looked up in
    `cache`, so the protobuf walk runs once per distinct pair, not once per entry.
    """
    n = len(buf)
    if n >= 4 and buf[0] == 0x08 and buf[2] == 0x12 and buf[1] < 0x80 and buf[3] < 0x80:
        end = 4 + buf[3]
        if end <= n and _CANONICAL_TAIL.fullmatch(buf, end):
            head = buf[:end]
            info = cache.get(head)
            if info is None:
                info = cache[head] = _decode_head(head)
            return info
    e = decode_entry(buf)
    check_shape(e.shape, e.unknown_rank)
    return e.dtype_info, e.shape


def _decode_head(head: bytes) -> Info:
    """(dtype, validated shape) of a canonical entry's first fields: `08 dt 12 len shape`."""
    dims: list[int] = []
    unknown_rank = decode_shape(head, 4, len(head), dims)
    shape = tuple(dims)
    check_shape(shape, unknown_rank)
    return dtype_from_enum(head[1]), shape


class EntryColumns:
    """Many BundleEntryProtos decoded at once (`decode_entry_columns`), one row per entry.

    `head` indexes `heads`, the distinct first fields (dtype and shape) of the entries in
    canonical form: rows with equal heads have equal dtype and shape (see `decode_info`).
    `head` is -1 for an entry that is not in canonical form (its other columns hold zeros:
    decode it with `decode_entry`) and -2 for one whose head was not grouped (a long shape:
    its columns are valid, its head is buf[start:head_end])."""

    __slots__ = (
        "crc32c",
        "head",
        "head_end",
        "heads",
        "offset",
        "shard_id",
        "size",
    )

    def __init__(
        self,
        head: np.ndarray[Any, np.dtype[np.int64]],
        heads: list[bytes],
        head_end: np.ndarray[Any, np.dtype[np.int64]],
        shard_id: np.ndarray[Any, np.dtype[np.int64]],
        offset: np.ndarray[Any, np.dtype[np.int64]],
        size: np.ndarray[Any, np.dtype[np.int64]],
        crc32c: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        self.head = head
        self.heads = heads
        self.head_end = head_end
        self.shard_id = shard_id
        self.offset = offset
        self.size = size
        self.crc32c = crc32c


_TAIL_TAGS: Final = (0x18, 0x20, 0x28)  # shard_id, offset, size: varints
_CRC_TAG: Final = 0x35
_ENTRY_MAX: Final = 64  # entries up to this long are decoded with NumPy
_WINDOW: Final = _ENTRY_MAX + 16  # bytes read from each entry's start (a varint may overrun)
_HEAD_MAX: Final = 32  # heads up to this long are grouped with NumPy
# Row k keeps the first k bytes of a 32-byte window (0xFF) and clears the rest.
_HEAD_MASKS: Final = np.where(
    np.arange(_HEAD_MAX) < np.arange(_HEAD_MAX + 1)[:, None], 255, 0
).astype(np.uint8)
_CHUNK: Final = 4096  # rows per step: temporaries stay small and in cache
_GROUP_ROUNDS: Final = 16  # distinct heads per chunk found by comparison before sorting


def decode_entry_columns(
    buf: bytes, start: np.ndarray[Any, Any], end: np.ndarray[Any, Any], *, values: bool = True
) -> EntryColumns:
    """The entries at buf[start[i]:end[i]], decoded with NumPy where they are canonical.

    Canonical is what `decode_info`'s fast path accepts (`08 dt 12 len <shape>`, one byte
    each, then only shard_id, offset and size as varints of at most 9 bytes and the crc32c,
    in that order, each at most once), which is what every writer of bundles produces; other
    entries are left to `decode_entry`, so the result never differs from it. With
    ``values=False`` only the heads are kept (the other columns are empty): a listing's need.
    """
    n = len(start)
    head = np.full(n, -1, np.int64)
    head_end = np.array(start, np.int64)
    cols = [np.zeros(n if values else 0, np.int64) for _ in range(4)]
    heads: dict[bytes, int] = {}
    arr = np.frombuffer(buf, np.uint8)
    # Entries that start in the last _WINDOW bytes are read from a zero-padded copy of them.
    main = int(np.searchsorted(start, len(arr) - _WINDOW, side="right"))
    if main < n and start[main:].min() < len(arr) - _WINDOW:
        main = 0  # (starts out of order: all from a padded copy; not from a table)
    parts = [(0, main, 0, arr), (main, n, 0, None)]
    for lo, hi, origin, source in parts:
        if lo == hi:
            continue
        if source is None:
            origin = int(start[lo:hi].min())
            source = np.concatenate([arr[origin:], np.zeros(_WINDOW, np.uint8)])
        windows = sliding_window_view(source, _WINDOW)
        for c0 in range(lo, hi, _CHUNK):
            c1 = min(hi, c0 + _CHUNK)
            _decode_chunk(
                windows,
                start[c0:c1] - origin,
                end[c0:c1] - origin,
                heads,
                head[c0:c1],
                head_end[c0:c1],
                [c[c0:c1] for c in cols] if values else None,
                origin,
            )
    return EntryColumns(head, list(heads), head_end, *cols)


def _decode_chunk(
    windows: np.ndarray[Any, Any],
    start: np.ndarray[Any, Any],
    end: np.ndarray[Any, Any],
    heads: dict[bytes, int],
    head: np.ndarray[Any, Any],
    head_end: np.ndarray[Any, Any],
    out: list[np.ndarray[Any, Any]] | None,
    origin: int,
) -> None:
    """`decode_entry_columns` of up to `_CHUNK` entries, each read from a copy of its first
    `_WINDOW` bytes (a row of `grid`); positions below are relative to the entry's start, and
    `start` to `origin` in the buffer."""
    start = start.astype(np.int64)
    size = end.astype(np.int64) - start
    n = len(start)
    grid = windows[np.minimum(start, len(windows) - 1)]
    flat = grid.ravel()
    words = np.ndarray((len(flat) - 7,), "<u8", flat, 0, (1,))  # 8 bytes from any position
    row0 = np.arange(n, dtype=np.int64) * _WINDOW  # where each row starts in `flat`
    shape_len = grid[:, 3].astype(np.int64)
    hend = 4 + shape_len
    ok = (start < len(windows)) & (size >= 4) & (size <= _ENTRY_MAX) & (hend <= size)
    ok &= (grid[:, 0] == 0x08) & (grid[:, 2] == 0x12) & (grid[:, 1] < 0x80) & (shape_len < 0x80)
    pos = hend.copy()
    for k, tag in enumerate(_TAIL_TAGS):
        rows = np.flatnonzero(ok & (pos < size))
        rows = rows[flat[row0[rows] + pos[rows]] == tag]
        if not len(rows):
            continue
        # The varint's first 8 bytes as one word; 9 bytes or more (values of 2**56 and up)
        # are left to `decode_entry`.
        length, value = decode_varint_words(
            words[row0[rows] + pos[rows] + 1], values=out is not None
        )
        ok[rows[length == 0]] = False
        if out is not None and value is not None:
            out[k][rows] = value
        pos[rows] += 1 + length
    rows = np.flatnonzero(ok & (pos + 5 <= size))
    rows = rows[flat[row0[rows] + pos[rows]] == _CRC_TAG]
    if len(rows) and out is not None:
        at = row0[rows] + pos[rows]
        b = [flat[at + i].astype(np.int64) for i in range(1, 5)]
        out[3][rows] = b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)
    pos[rows] += 5
    ok &= pos == size
    bad = ~ok
    for c in out or ():
        c[bad] = 0
    head_end[ok] = (start + hend)[ok] + origin
    head[ok] = -2
    # Group equal heads exactly: zero-padded to 32 bytes, compared as four 64-bit words.
    todo = ok & (hend <= _HEAD_MAX)
    if not todo.any():
        return
    padded = grid[:, :_HEAD_MAX] & _HEAD_MASKS[np.minimum(hend, _HEAD_MAX)]
    columns = [np.ascontiguousarray(c) for c in padded.view(np.uint64).T]
    for _ in range(_GROUP_ROUNDS):
        first = int(todo.argmax())
        if not todo[first]:
            return
        same = todo.copy()
        for c in columns:
            same &= c == c[first]
        head[same] = heads.setdefault(bytes(padded[first, : hend[first]]), len(heads))
        todo &= ~same
    rows = np.flatnonzero(todo)
    if len(rows):
        _, rep, inv = np.unique(
            padded[rows].view(np.dtype((np.void, _HEAD_MAX))).ravel(),
            return_index=True,
            return_inverse=True,
        )
        ids = [
            heads.setdefault(bytes(padded[r, : hend[r]]), len(heads)) for r in rows[rep].tolist()
        ]
        head[rows] = np.array(ids, np.int64)[inv.ravel()]


def decode_infos(
    buf: bytes,
    start: np.ndarray[Any, Any],
    end: np.ndarray[Any, Any],
    cache: dict[bytes, Info],
    *,
    values: bool = True,
) -> tuple[list[Info], EntryColumns]:
    """`decode_info` of every entry at buf[start[i]:end[i]], in order, and the entries'
    columns (`values` as for `decode_entry_columns`): each distinct (dtype, shape) is decoded
    once; only entries that are not in canonical form are walked one by one. Raises the first
    error met (callers find which entry it is by decoding them one by one: this one reports
    no key)."""
    cols = decode_entry_columns(buf, start, end, values=values)
    by_head: list[Info] = []
    for h in cols.heads:
        info = cache.get(h)
        if info is None:
            info = cache[h] = _decode_head(h)
        by_head.append(info)
    ids = cols.head.tolist()
    by_head.append(by_head[0] if by_head else (dtype_from_enum(1), ()))  # -1, -2 fixed below
    by_head.append(by_head[-1])
    infos = list(map(by_head.__getitem__, ids))
    for i in np.flatnonzero(cols.head < 0).tolist():
        infos[i] = decode_info(buf[int(start[i]) : int(end[i])], cache)
    return infos, cols


def decode_shape(buf: bytes, pos: int, end: int, dims: list[int]) -> bool:
    unknown_rank = False
    for f, wt, v, dend in iter_fields(buf, pos, end):
        if f == 2 and wt == LEN:
            size = 0
            for df, dwt, dv, _ in iter_fields(buf, v, dend):
                if df == 1 and dwt == VARINT:
                    size = signed64(dv)
            dims.append(size)
            if len(dims) > MAX_RANK:
                raise CorruptCheckpointError(f"tensor shape has more than {MAX_RANK} dimensions")
        elif f == 3 and wt == VARINT:
            unknown_rank = v != 0
    return unknown_rank


def decode_slice(buf: bytes, pos: int, end: int) -> list[Extent]:
    extents: list[Extent] = []
    for f, wt, v, eend in iter_fields(buf, pos, end):
        if f == 1 and wt == LEN:
            start, length = 0, -1
            for ef, ewt, ev, _ in iter_fields(buf, v, eend):
                if ef == 1 and ewt == VARINT:
                    start = signed64(ev)
                elif ef == 2 and ewt == VARINT:
                    length = signed64(ev)
            extents.append((start, length))
            if len(extents) > MAX_RANK:
                raise CorruptCheckpointError(f"tensor slice has more than {MAX_RANK} dimensions")
    return extents


def check_shape(shape: tuple[int, ...], unknown_rank: bool = False) -> int:
    """Validate a stored shape as TF's TensorShape::IsValid does; return the element count."""
    if unknown_rank:
        raise CorruptCheckpointError("invalid tensor shape: unknown rank")
    if len(shape) > MAX_RANK:
        raise CorruptCheckpointError(f"invalid tensor shape: rank {len(shape)} > {MAX_RANK}")
    n = 1
    for d in shape:
        if d < 0:
            raise CorruptCheckpointError(f"invalid tensor shape {list(shape)}: negative dimension")
        n *= d
        if n > _MAX_ELEMENTS:
            raise CorruptCheckpointError(
                f"invalid tensor shape {list(shape)}: element count overflows int64"
            )
    return n


def encode_shape(shape: tuple[int, ...]) -> bytes:
    return b"".join(field_bytes(2, field_varint(1, d) if d else b"") for d in shape)


def encode_slice(extents: list[Extent]) -> bytes:
    out = b""
    for start, length in extents:
        ext = b""
        if length >= 0:
            if start:
                ext += field_varint(1, start)
            ext += field_varint(2, length)
        out += field_bytes(1, ext)
    return out


def encode_entry(e: Entry) -> bytes:
    out = b""
    if e.dtype:
        out += field_varint(1, e.dtype)
    out += field_bytes(2, encode_shape(e.shape))
    if e.shard_id:
        out += field_varint(3, e.shard_id)
    if e.offset:
        out += field_varint(4, e.offset)
    if e.size:
        out += field_varint(5, e.size)
    if e.crc32c:
        out += field_fixed32(6, e.crc32c)
    for s in e.slices:
        out += field_bytes(7, encode_slice(s))
    return out
