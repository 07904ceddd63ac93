"""Building V1 (TensorSlice) checkpoint files for tests, with the protobuf runtime's encoder.

The files are made by the generated protobuf classes and the table writer, not by the reader
under test, so a shared misunderstanding of the format cannot make both sides agree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tfckpt_lite._dtypes import dtype_from_name
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._proto import saved_tensor_slice_pb2 as stp
from tfckpt_lite._proto import tensor_pb2
from tfckpt_lite._table import build_table
from tfckpt_lite._wire import field_bytes

Extents = list[tuple[int, int]]

# The dtypes TF's V1 writer accepts (TF 2.21, see testdata/README.md), plus uint32/uint64,
# which newer TF trees can restore from their own typed fields although the writer refuses.
V1_DTYPES = (
    "float32",
    "float64",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "bool",
    "complex64",
    "complex128",
    "float16",
    "string",
    "qint8",
    "quint8",
    "qint32",
    "uint32",
    "uint64",
)


def tensor_proto(dtype: str, values: np.ndarray[Any, Any]) -> tensor_pb2.TensorProto:
    """A TensorProto with only the typed field filled, as TF's V1 writer makes it."""
    tp = tensor_pb2.TensorProto()
    flat = values.reshape(-1)
    if dtype == "float32":
        tp.float_val.extend(flat.astype(np.float32).tolist())
    elif dtype == "float64":
        tp.double_val.extend(flat.tolist())
    elif dtype in ("int8", "int16", "int32", "uint8", "uint16", "qint8", "quint8", "qint32"):
        tp.int_val.extend(int(v) for v in flat)
    elif dtype == "int64":
        tp.int64_val.extend(int(v) for v in flat)
    elif dtype == "uint32":
        tp.uint32_val.extend(int(v) for v in flat)
    elif dtype == "uint64":
        tp.uint64_val.extend(int(v) for v in flat)
    elif dtype == "bool":
        tp.bool_val.extend(bool(v) for v in flat)
    elif dtype == "complex64":
        tp.scomplex_val.extend(flat.view(np.float32).tolist())
    elif dtype == "complex128":
        tp.dcomplex_val.extend(flat.view(np.float64).tolist())
    elif dtype == "float16":
        tp.half_val.extend(int(v) for v in flat.view(np.uint16))
    elif dtype == "string":
        tp.string_val.extend(bytes(v) for v in flat)
    else:
        raise ValueError(dtype)
    return tp


@dataclass
class V1Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    # (extents, TensorProto bytes) per slice stored in this file; -1 length = full dimension
    slices: list[tuple[Extents, bytes]] = field(default_factory=list)
    dtype_enum: int | None = None


def full_slice(shape: tuple[int, ...]) -> Extents:
    return [(0, -1)] * len(shape)


def whole(name: str, dtype: str, values: np.ndarray[Any, Any]) -> V1Tensor:
    """An unpartitioned tensor: one slice covering every dimension."""
    tp = tensor_proto(dtype, values).SerializeToString()
    return V1Tensor(name, dtype, values.shape, [(full_slice(values.shape), tp)])


def build_v1(
    tensors: list[V1Tensor],
    *,
    versions: bool = True,
    min_consumer: int = 0,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> bytes:
    """One V1 table file holding `tensors` (their slices as given)."""
    toc = stp.SavedTensorSlices()
    toc.meta.SetInParent()
    if versions:
        toc.meta.versions.producer = 1
        toc.meta.versions.min_consumer = min_consumer
    items: dict[bytes, bytes] = {}
    for t in tensors:
        ssm = toc.meta.tensor.add()
        ssm.name = t.name
        ssm.type = t.dtype_enum if t.dtype_enum is not None else dtype_from_name(t.dtype).enum  # type: ignore[assignment]
        ssm.shape.SetInParent()
        for d in t.shape:
            ssm.shape.dim.add().size = d
        for extents, tp in t.slices:
            sp = ssm.slice.add()
            for start, length in extents:
                e = sp.extent.add()
                if length >= 0:
                    e.start = start
                    e.length = length
            # The TensorProto bytes go in as given (a parse and re-serialize would repack
            # fields written unpacked on purpose).
            saved = stp.SavedSlice(name=t.name)
            saved.slice.CopyFrom(sp)
            value = field_bytes(2, saved.SerializeToString() + field_bytes(3, tp))
            items[encode_slice_key(t.name.encode(), extents)] = value
    items.update(extra or [])
    return build_table([(b"", toc.SerializeToString()), *sorted(items.items())])


def row_partitions(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    """[(start, length)] splitting range(n) at the sorted distinct `cuts`."""
    points = [0, *sorted({c for c in cuts if 0 < c < n}), n]
    return [(a, b - a) for a, b in itertools.pairwise(points)]
