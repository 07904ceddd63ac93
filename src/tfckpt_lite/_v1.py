"""Reading legacy V1 checkpoints: one sorted table (see `_table`) per shard, no `.index`/`.data`.

    files       P itself (unsharded), or P-00000-of-00002 ... (the V1 Saver's shards, which
                TF names by the pattern P-?????-of-00002)
    key ""      SavedTensorSlices{ meta }   the shard's table of contents
    other keys  EncodeTensorNameSlice(name, slice) (see `_ordered_code`), each holding
                SavedTensorSlices{ data } with one slice's values. Unpartitioned tensors
                are one slice covering every dimension (`80 7f` per dimension); scalars
                a slice of rank 0.

    SavedTensorSlices     1 meta SavedTensorSliceMeta, 2 data SavedSlice
    SavedTensorSliceMeta  1 tensor repeated SavedSliceMeta, 2 versions VersionDef
                          (2015 files have no `versions`: producer 0, which is accepted)
    SavedSliceMeta        1 name, 2 shape TensorShapeProto, 3 type DataType,
                          4 slice repeated TensorSliceProto (the slices in *this* file)
    SavedSlice            1 name, 2 slice, 3 data TensorProto
    TensorProto           only the dtype's typed repeated field is filled:
                          5 float_val (float32), 6 double_val, 7 int_val (int32, int16, int8,
                          uint8, uint16, qint8, quint8, qint16, quint16, qint32),
                          8 string_val, 9 scomplex_val / 12 dcomplex_val (re, im interleaved),
                          10 int64_val, 11 bool_val, 13 half_val (the float16 bit pattern),
                          16 uint32_val, 17 uint64_val

Each shard file is read whole and its table validated on open: the values live inside the
table, so there is no data file to map lazily. Values are decoded (or, for float and double
slices, copied) into a new array per read: writable and private, as for V2.

Decoding is hand-rolled on `_wire` rather than through generated protobuf classes: the values
of a V1 tensor are one packed field, which NumPy views in place (floats) or decodes in a few
vectorized passes (varints), where a protobuf message would first build a Python list of
every element. It also turns every malformed byte into a `CorruptCheckpointError`.

Rules, those of TF's TensorSliceReader / RestoreV2 (tests/test_tf_v1.py checks each against
TF 2.21 on crafted files):
  * every shard's table of contents is read on open; a tensor named by several shards must
    agree on dtype and shape, and its slices must not overlap (TF: "Overlapping slices");
  * reading needs slices covering the whole tensor, each found under its computed key in the
    shard that listed it, holding exactly as many values as the slice has elements (TF:
    "Error copying slice data"; a single value is not broadcast);
  * integer fields are narrowed to the dtype by keeping the low bits, bool is "nonzero", half
    keeps the low 16 bits: the same casts TF applies, so values are bit-identical;
  * V1 has no per-tensor checksum: only the table's block CRCs, all verified on open.
One deliberate extension: `tensor_content`, which TF's V1 writer never fills and its reader
refuses (it counts only the typed field), is accepted when the typed field is empty and it
holds exactly the slice's bytes (little-endian). Reading more than TF is harmless here: the
bytes can mean nothing else.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from ._bundle import (
    Extent,
    check_shape,
    check_versions,
    decode_shape,
    decode_slice,
    decode_versions,
)
from ._coding import decode_varints
from ._dtypes import DType, dtype_from_enum, dtype_from_name
from ._errors import (
    CheckpointError,
    CheckpointNotFoundError,
    CorruptCheckpointError,
    NotACheckpointError,
    TensorNotFoundError,
    UnsupportedCheckpointError,
    _with_context,
)
from ._naming import decode_key, encode_key, v1_shard_re
from ._ordered_code import encode_slice_key
from ._slices import Box, box_region, box_shape, check_coverage, find_overlap, slice_box
from ._storage import FileSystem, Source, is_remote
from ._table import FOOTER_SIZE, TABLE_MAGIC, read_table
from ._wire import FIXED32, FIXED64, LEN, VARINT, iter_fields, signed64

__all__ = ["V1Reader", "decode_tensor_proto_values", "v1_shard_files"]

# TF_CHECKPOINT_VERSION / _MIN_PRODUCER / _MIN_CONSUMER (core/public/version.h).
CHECKPOINT_VERSION: Final = 1
CHECKPOINT_VERSION_MIN_PRODUCER: Final = 0

_SHARD_RE: Final = v1_shard_re("")

# TensorProto fields (tensor.proto) that carry V1 values.
_TENSOR_CONTENT, _FLOAT, _DOUBLE, _INT, _STRING = 4, 5, 6, 7, 8
_SCOMPLEX, _INT64, _BOOL, _DCOMPLEX, _HALF = 9, 10, 11, 12, 13
_UINT32, _UINT64 = 16, 17

# DataType -> the field holding its values (saved_tensor_slice_util.h). qint16 is not in
# TF's list but follows the same int_val convention as every other narrow integer.
_FIELD_OF: Final[dict[int, int]] = {
    dtype_from_name(name).enum: f
    for names, f in (
        (("float32",), _FLOAT),
        (("float64",), _DOUBLE),
        (("int8", "int16", "int32", "uint8", "uint16"), _INT),
        (("qint8", "quint8", "qint16", "quint16", "qint32"), _INT),
        (("string",), _STRING),
        (("complex64",), _SCOMPLEX),
        (("complex128",), _DCOMPLEX),
        (("int64",), _INT64),
        (("bool",), _BOOL),
        (("float16",), _HALF),
        (("uint32",), _UINT32),
        (("uint64",), _UINT64),
    )
    for name in names
}
_FIXED_WIDTH: Final = {_FLOAT: 4, _DOUBLE: 8, _SCOMPLEX: 4, _DCOMPLEX: 8}


@dataclass
class _Slice:
    extents: list[Extent]
    shard: int  # index into V1Reader.files


@dataclass
class _Tensor:
    dtype: int
    shape: tuple[int, ...]
    slices: list[_Slice] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)


def v1_shard_files(pattern: str, fs: FileSystem) -> list[str]:
    """The files of a V1 checkpoint named by `pattern`, sorted as TF's GetMatchingPaths.

    `pattern` is a file (unsharded), a glob in its last component (`P-?????-of-00002`, as TF's
    V1 Saver records it), or a bare prefix P whose shards `P-NNNNN-of-MMMMM` exist. When the
    names say `-of-MMMMM`, all M shards must be there: a missing shard would otherwise make
    its tensors silently absent.
    """
    if fs.isfile(pattern):
        return [pattern]  # even when its name holds glob characters, e.g. `run[1].ckpt`
    directory = fs.dirname(pattern)
    base = pattern[len(directory) :].lstrip("/\\") if directory else pattern
    if any(c in base for c in "*?["):
        if any(c in directory for c in "*?["):
            raise UnsupportedCheckpointError(
                "wildcards are supported in the file name only, not in directories", path=pattern
            )
        names = [n for n in _listdir(directory, fs) if fnmatch.fnmatchcase(n, base)]
    else:
        pat = v1_shard_re(base)
        names = [n for n in _listdir(directory, fs) if pat.match(n)]
    files = [fs.join(directory, n) if directory else n for n in sorted(names)]
    files = [f for f in files if fs.isfile(f)]
    if not files:
        raise CheckpointNotFoundError(
            "no V1 checkpoint file matches this name or pattern", path=pattern
        )
    _check_shard_set(files, pattern)
    return files


def _listdir(directory: str, fs: FileSystem) -> list[str]:
    where = directory or "."
    if not fs.isdir(where):
        raise CheckpointNotFoundError("directory does not exist", path=where)
    return fs.listdir(where)


def _check_shard_set(files: list[str], pattern: str) -> None:
    found: dict[int, set[int]] = {}
    for f in files:
        m = _SHARD_RE.search(f)
        if m is None:
            return  # not shard-named: nothing to cross-check
        found.setdefault(int(m.group("num_shards")), set()).add(int(m.group("shard")))
    if len(found) > 1:
        raise CorruptCheckpointError(
            f"files of several shard sets match ({', '.join(str(n) for n in sorted(found))} "
            f"shards): pass a pattern naming one, such as P-?????-of-{max(found):05d}",
            path=pattern,
        )
    ((total, have),) = found.items()
    for i in range(min(total, len(have) + 1)):
        if i not in have:
            name = _SHARD_RE.sub(f"-{i:05d}-of-{total:05d}", files[0])
            raise CheckpointNotFoundError(
                f"shard {i} of {total} of this V1 checkpoint does not exist", path=name
            )
    if max(have) >= total:
        raise CorruptCheckpointError(f"shard {max(have)} of {total} is out of range", path=pattern)


class V1Reader:
    """The V1 backend behind `CheckpointReader` (see the module docstring)."""

    format = "v1"

    def __init__(self, prefix_or_pattern: str, fs: FileSystem, *, readonly: bool = False) -> None:
        self.prefix = prefix_or_pattern
        self.remote = is_remote(fs)
        self._fs = fs
        self._readonly = readonly
        self.files = v1_shard_files(prefix_or_pattern, fs)
        self._tables: list[dict[bytes, bytes]] = []
        self._tensors: dict[str, _Tensor] = {}
        for shard, path in enumerate(self.files):
            self._load_shard(shard, path)
        for key, t in self._tensors.items():  # TF refuses overlaps on open, as here
            i = find_overlap(t.boxes)
            if i is not None:
                raise CorruptCheckpointError(
                    f"overlapping slices: {t.slices[i].extents}",
                    path=self.files[t.slices[i].shard],
                    key=key,
                )
        self._keys = sorted(self._tensors, key=encode_key)

    # -- opening --------------------------------------------------------------------------

    def _load_shard(self, shard: int, path: str) -> None:
        try:
            # Every unrecognised plain file is sent here: look at its last bytes before
            # reading all of it (a 1 GiB file that is no table must not cost 1 GiB).
            src = self._fs.open_source(path)
            try:
                tail = bytes(src.read(src.size - 8, 8)) if src.size >= FOOTER_SIZE else b""
            finally:
                src.close()
            if tail != TABLE_MAGIC.to_bytes(8, "little"):
                self._parse_shard(shard, tail)  # raises the NotACheckpointError with hints
            self._parse_shard(shard, self._fs.read_bytes(path))
        except CheckpointError as e:
            raise _with_context(e, path=path) from None

    def _parse_shard(self, shard: int, data: bytes) -> None:
        if len(data) < FOOTER_SIZE or data[-8:] != TABLE_MAGIC.to_bytes(8, "little"):
            # Path resolution sends every unrecognised plain file here, so say what it is not.
            hint = (
                "; for a MetaGraphDef '.meta' file pass the prefix without '.meta'"
                if self.files[shard].endswith(".meta")
                else ""
            )
            raise NotACheckpointError(
                "not a TensorFlow checkpoint: no '.index' file beside it, and not a V1 "
                f"checkpoint table (no table magic at its end; a truncated V1 file looks the "
                f"same){hint}"
            )
        items = read_table(data)
        if not items or items[0][0] != b"":
            raise CorruptCheckpointError(
                "failed to find the saved tensor slices at the beginning of the checkpoint file"
            )
        self._tables.append(dict(items[1:]))
        toc = items[0][1]
        meta: tuple[int, int] | None = None
        for f, wt, v, end in iter_fields(toc, 0, len(toc)):
            if f == 1 and wt == LEN:
                meta = (v, end)
            elif f == 2 and wt == LEN:
                raise CorruptCheckpointError("the table of contents holds slice data, not meta")
        if meta is None:
            raise CorruptCheckpointError("the table of contents has no SavedTensorSliceMeta")
        for f, wt, v, end in iter_fields(toc, *meta):
            if f == 1 and wt == LEN:
                self._register(shard, toc, v, end)
            elif f == 2 and wt == LEN:
                check_versions(
                    decode_versions(toc, v, end),
                    current=CHECKPOINT_VERSION,
                    min_producer=CHECKPOINT_VERSION_MIN_PRODUCER,
                )

    def _register(self, shard: int, buf: bytes, pos: int, end: int) -> None:
        """One SavedSliceMeta: a tensor and the slices of it this shard holds."""
        name = b""
        dtype = 0
        dims: list[int] = []
        unknown_rank = False
        slices: list[list[Extent]] = []
        for f, wt, v, fend in iter_fields(buf, pos, end):
            if f == 1 and wt == LEN:
                name = bytes(buf[v:fend])
            elif f == 2 and wt == LEN:
                unknown_rank = decode_shape(buf, v, fend, dims) or unknown_rank
            elif f == 3 and wt == VARINT:
                dtype = signed64(v)
            elif f == 4 and wt == LEN:
                slices.append(decode_slice(buf, v, fend))
        key = decode_key(name)
        shape = tuple(dims)
        try:
            check_shape(shape, unknown_rank)
        except CheckpointError as e:
            raise _with_context(e, path=None, key=key) from None
        t = self._tensors.get(key)
        if t is None:
            t = self._tensors[key] = _Tensor(dtype, shape)
        elif t.shape != shape:
            raise CorruptCheckpointError(
                f"incompatible tensor shapes detected: {list(t.shape)} and {list(shape)}",
                key=key,
            )
        elif t.dtype != dtype:
            raise CorruptCheckpointError(
                f"data type mismatch: {dtype_from_enum(t.dtype).name} and "
                f"{dtype_from_enum(dtype).name}",
                key=key,
            )
        try:
            for extents in slices:
                t.boxes.append(slice_box(extents, shape))
                t.slices.append(_Slice(extents, shard))
        except CheckpointError as e:
            raise _with_context(e, path=None, key=key) from None

    # -- metadata -------------------------------------------------------------------------

    def keys(self) -> list[str]:
        return list(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._tensors

    def _tensor(self, key: str) -> _Tensor:
        t = self._tensors.get(key)
        if t is None:
            raise TensorNotFoundError(
                f"Key {key} not found in checkpoint", path=self.prefix, key=key
            )
        return t

    def info(self, key: str) -> tuple[DType, tuple[int, ...]]:
        t = self._tensor(key)
        return dtype_from_enum(t.dtype), t.shape

    # -- values ---------------------------------------------------------------------------

    def read_many(self, keys: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        return {k: self.read(k) for k in keys}

    def read(self, key: str, *, verify: bool = True) -> np.ndarray[Any, Any]:
        """The whole tensor. `verify` is accepted for the protocol: V1 stores no tensor CRC,
        and the table's block CRCs were all checked on open."""
        t = self._tensor(key)
        path = self.files[t.slices[0].shard] if t.slices else self.prefix
        try:
            arr = self._assemble(key, t)
        except CheckpointError as e:
            raise _with_context(e, path=path, key=key) from None
        if self._readonly:
            arr.flags.writeable = False
        elif not arr.flags.writeable:  # a view of the table's bytes: the caller gets a copy
            arr = arr.copy()
        return arr

    def read_rows(self, key: str, start: int, stop: int) -> np.ndarray[Any, Any]:
        # The values live inside protobuf messages in the table; there is nothing to skip.
        return self.read(key)[start:stop]

    def infos(self) -> list[tuple[str, DType, tuple[int, ...]]]:
        return [
            (k, dtype_from_enum(self._tensors[k].dtype), self._tensors[k].shape) for k in self._keys
        ]

    def shapes(self) -> list[tuple[int, ...]]:
        return [self._tensors[k].shape for k in self._keys]

    def stored_size(self, key: str) -> int:
        """Bytes of the tensor's serialized slices in the tables (values are stored inside
        TensorProtos there, not in data files of their own)."""
        t = self._tensor(key)
        name = encode_key(key)
        return sum(
            len(self._tables[s.shard].get(encode_slice_key(name, s.extents), b""))
            for s in t.slices
            if s.shard < len(self._tables)
        )

    def byte_ranges(self, key: str) -> list[tuple[Source, int, int]]:
        """None to fetch ahead: V1 values are read out of tables already in memory."""
        return []

    def verify_tensor(self, key: str) -> None:
        """Check one tensor's table blocks and values (dtypes V1 cannot hold are listed only)."""
        if dtype_from_enum(self._tensor(key).dtype).enum in _FIELD_OF:
            self.read(key)

    def close(self) -> None:
        self._tables.clear()

    # -- internals ------------------------------------------------------------------------

    def _assemble(self, key: str, t: _Tensor) -> np.ndarray[Any, Any]:
        dt = dtype_from_enum(t.dtype)
        if dt.enum not in _FIELD_OF or dt.numpy_dtype is None:
            raise UnsupportedCheckpointError(
                f"dtype {dt.name} is not readable from a V1 checkpoint (TF's V1 format stores "
                f"only numeric, bool and string tensors)"
            )
        check_coverage(t.shape, t.boxes)  # no overlaps: checked on open
        if len(self._tables) != len(self.files):
            raise ValueError("the checkpoint reader is closed")  # a caller error, not the file's
        name = encode_key(key)
        # Decode (and count-check) every slice before allocating the whole tensor.
        parts: list[tuple[tuple[slice, ...], np.ndarray[Any, Any]]] = []
        for s, box in zip(t.slices, t.boxes):
            shape = box_shape(box)
            raw = self._tables[s.shard].get(encode_slice_key(name, s.extents))
            if raw is None:
                raise CorruptCheckpointError(
                    f"slice {s.extents} is listed in the table of contents but has no entry",
                    path=self.files[s.shard],
                )
            try:
                values = _slice_values(raw, dt, check_shape(shape))
            except CheckpointError as e:
                raise _with_context(e, path=self.files[s.shard]) from None
            parts.append((box_region(box), values.reshape(shape)))
        if len(parts) == 1:
            return parts[0][1].reshape(t.shape)
        out = np.empty(t.shape, dt.numpy_dtype)
        for region, values in parts:
            out[region] = values
        return out


def _slice_values(raw: bytes, dt: DType, n: int) -> np.ndarray[Any, Any]:
    """The n values of one stored slice: SavedTensorSlices{data: SavedSlice{data: ...}}."""
    data: tuple[int, int] | None = None
    for f, wt, v, end in iter_fields(raw, 0, len(raw)):
        if f == 2 and wt == LEN:
            data = (v, end)
    tensor = (0, 0)
    if data is not None:
        for f, wt, v, end in iter_fields(raw, *data):
            if f == 3 and wt == LEN:
                tensor = (v, end)
    return decode_tensor_proto_values(raw, tensor[0], tensor[1], dt, n)


def decode_tensor_proto_values(
    buf: bytes, pos: int, end: int, dt: DType, n: int
) -> np.ndarray[Any, Any]:
    """Exactly n values of dtype `dt` from the typed field of the TensorProto in buf[pos:end].

    Raises CorruptCheckpointError when the field holds a different number of values.
    """
    want = _FIELD_OF[dt.enum]
    np_dtype = dt.numpy_dtype
    assert np_dtype is not None
    chunks: list[tuple[int, int, int]] = []  # (wire type, value or start, end)
    content: tuple[int, int] | None = None
    for f, wt, v, fend in iter_fields(buf, pos, end):
        if f == want:
            chunks.append((wt, v, fend))
        elif f == _TENSOR_CONTENT and wt == LEN:
            content = (v, fend)
    if want == _STRING:
        strings = [bytes(buf[v:fend]) for wt, v, fend in chunks if wt == LEN]
        if len(strings) != len(chunks) or len(strings) != n:
            raise CorruptCheckpointError(f"slice holds {len(strings)} string values, expected {n}")
        out = np.empty(n, object)
        out[:] = strings
        return out
    per = 2 if want in (_SCOMPLEX, _DCOMPLEX) else 1
    if not chunks and content is not None and n:
        start, stop = content
        if stop - start != n * np_dtype.itemsize:
            raise CorruptCheckpointError(
                f"slice's tensor_content has {stop - start} bytes, expected {n * np_dtype.itemsize}"
            )
        return _aligned(np.frombuffer(buf, np_dtype, count=n, offset=start))
    width = _FIXED_WIDTH.get(want, 0)
    scalars = _fixed_values(buf, chunks, width) if width else _varint_values(buf, chunks)
    if len(scalars) != n * per:
        raise CorruptCheckpointError(
            f"slice holds {len(scalars) // per if per == 1 else len(scalars) / per} values "
            f"in TensorProto field {want}, expected {n}"
        )
    if width:
        return _aligned(scalars).view(np_dtype)
    if want == _BOOL:
        nonzero: np.ndarray[Any, Any] = scalars != 0
        return nonzero
    if want == _HALF:
        return (scalars & np.uint64(0xFFFF)).astype(np.uint16).view(np_dtype)
    # Keep the low bits, as protobuf's int32/uint32 parsing and TF's static_cast do.
    unsigned = np.dtype(f"<u{np_dtype.itemsize}") if np_dtype.itemsize > 1 else np.dtype("u1")
    return scalars.astype(unsigned).view(np_dtype)


def _aligned(arr: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return arr if arr.flags.aligned else arr.copy()


def _fixed_values(
    buf: bytes, chunks: list[tuple[int, int, int]], width: int
) -> np.ndarray[Any, Any]:
    """A packed (or, from old writers, unpacked) float/double field as one array, in wire
    order (protobuf appends every occurrence of a repeated field)."""
    kind = np.dtype(f"<f{width}")
    wire = FIXED32 if width == 4 else FIXED64
    parts: list[np.ndarray[Any, Any]] = []
    loose: list[int] = []
    for wt, v, end in chunks:
        if wt == LEN:
            if (end - v) % width:
                raise CorruptCheckpointError(
                    f"packed field of {end - v} bytes is not a multiple of {width}"
                )
            if loose:
                parts.append(np.array(loose, f"<u{width}").view(kind))
                loose = []
            parts.append(np.frombuffer(buf, kind, count=(end - v) // width, offset=v))
        elif wt == wire:
            loose.append(v)
        else:
            raise CorruptCheckpointError(f"wire type {wt} for a {width}-byte float field")
    if loose:
        parts.append(np.array(loose, f"<u{width}").view(kind))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, kind)


def _varint_values(buf: bytes, chunks: list[tuple[int, int, int]]) -> np.ndarray[Any, Any]:
    parts: list[np.ndarray[Any, Any]] = []
    loose: list[int] = []
    for wt, v, end in chunks:
        if wt == LEN:
            if loose:
                parts.append(np.array(loose, np.uint64))
                loose = []
            parts.append(decode_varints(buf, v, end, what="packed varint")[0])
        elif wt == VARINT:
            loose.append(v)
        else:
            raise CorruptCheckpointError(f"wire type {wt} for a varint field")
    if loose:
        parts.append(np.array(loose, np.uint64))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)
