"""Shared helpers for the reader/writer and TF interop tests: dtypes and value generators.

Kept free of TensorFlow so the non-TF tests can import it.
"""

from __future__ import annotations

from typing import Any

import ml_dtypes
import numpy as np

# Every dtype TF 2.21 can store in a bundle that has a NumPy form (quantized types have none,
# resource/variant are opaque). Names are TensorFlow's.
FIXED_DTYPES: dict[str, Any] = {
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
    "bfloat16": ml_dtypes.bfloat16,
    "complex64": np.complex64,
    "complex128": np.complex128,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
    "float8_e5m2": ml_dtypes.float8_e5m2,
    "float8_e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8_e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "float8_e4m3b11fnuz": ml_dtypes.float8_e4m3b11fnuz,
    "float8_e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "int4": ml_dtypes.int4,
    "uint4": ml_dtypes.uint4,
}
# newer ml_dtypes only (the library maps them the same way, via getattr)
for _name in ("int2", "uint2", "float4_e2m1fn"):
    if hasattr(ml_dtypes, _name):
        FIXED_DTYPES[_name] = getattr(ml_dtypes, _name)
SUB_BYTE = ("int4", "uint4", "int2", "uint2", "float4_e2m1fn")
ALL_DTYPES = (*FIXED_DTYPES, "string")

_INT_RANGES = {"int4": (-8, 7), "uint4": (0, 15), "int2": (-2, 1), "uint2": (0, 3)}
_FLOAT4_VALUES = [-6.0, -4.0, -3.0, -2.0, -1.5, -1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
STRING_SAMPLES = [
    b"",
    b"a" * 127,
    b"b" * 128,
    b"\x00",
    b"ends with nul\x00\x00",
    bytes(range(256)),
    "unicode ✓ ünï".encode(),
    b"c" * (1 << 14),
]


def random_array(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> Any:
    """A value of TF dtype `name` and `shape`; floats cover every bit pattern (NaN, inf, ...)."""
    n = int(np.prod(shape, dtype=np.int64))
    if name == "string":
        out = np.empty(n, dtype=object)
        for i in range(n):
            if rng.random() < 0.5:
                out[i] = STRING_SAMPLES[int(rng.integers(len(STRING_SAMPLES)))]
            else:
                out[i] = rng.bytes(int(rng.integers(0, 40)))
        return out.reshape(shape)
    dt = np.dtype(FIXED_DTYPES[name])
    if name == "bool":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    if name == "float4_e2m1fn":
        return np.array(rng.choice(_FLOAT4_VALUES, size=shape), dtype=np.float32).astype(dt)
    if name in SUB_BYTE:
        lo, hi = _INT_RANGES[name]
        return rng.integers(lo, hi + 1, size=shape).astype(np.int8).astype(dt)
    return np.frombuffer(rng.bytes(n * dt.itemsize), dtype=dt).reshape(shape).copy()


def same_array(got: Any, want: Any) -> bool:
    """Bit-exact equality (NaN payloads included); strings element by element as bytes."""
    if isinstance(want, bytes) or (isinstance(want, np.ndarray) and want.dtype == object):
        # a string tensor (or one element of it): compare element by element as bytes
        if isinstance(want, bytes) or isinstance(got, bytes):
            return isinstance(got, bytes) and got == want
        return (
            isinstance(got, np.ndarray)
            and got.dtype == object
            and got.shape == want.shape
            and all(type(x) is bytes for x in got.reshape(-1).tolist())
            and got.reshape(-1).tolist() == want.reshape(-1).tolist()
        )
    got = np.asarray(got)
    want = np.asarray(want)
    if got.shape != want.shape:
        return False
    return bool(got.dtype == want.dtype) and got.tobytes() == want.tobytes()
