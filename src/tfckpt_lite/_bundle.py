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
from typing import Final

import numpy as np

from ._coding import decode_varints
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
    "Extent",
    "Header",
    "Versions",
    "check_shape",
    "check_versions",
    "decode_entry",
    "decode_header",
    "decode_info",
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
                dims: list[int] = []
                unknown_rank = decode_shape(buf, 4, end, dims)
                shape = tuple(dims)
                check_shape(shape, unknown_rank)
                info = cache[head] = (dtype_from_enum(buf[1]), shape)
            return info
    e = decode_entry(buf)
    check_shape(e.shape, e.unknown_rank)
    return e.dtype_info, e.shape


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
