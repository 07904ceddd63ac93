"""TensorFlow's DataType enum and how each value is stored in a bundle.

Fixed-size ("memcpy") types are the tensor's row-major buffer in the writer's byte order.
Sub-byte types (int4, uint4, int2, uint2, float4_e2m1fn) take one byte per element, unpacked,
which is exactly ml_dtypes' in-memory layout. DT_STRING and DT_VARIANT have their own
variable-length encodings (see `_tensor_codec`); DT_RESOURCE is never written by TF.
Quantized types (qint8, ...) are returned as their plain integer counterparts.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

__all__ = ["DType", "dtype_from_enum", "dtype_from_name", "dtype_of_array"]


class DType:
    """A TensorFlow dtype as stored in a checkpoint: immutable, compared and hashed by its
    three fields (a frozen record, written out: ``@dataclass`` would cost every import of
    the package about a millisecond).

    Attributes:
        name: TensorFlow's name (``"float32"``, ``"bfloat16"``, ``"string"``, ...), the same as
            ``tf.DType.name``.
        enum: the ``DataType`` enum value stored in the index.
        numpy_dtype: the little-endian NumPy dtype of one element, ``object`` for strings, or
            ``None`` for types with no array form (variant, resource, unknown).
    """

    __slots__ = ("_enum", "_name", "_numpy_dtype")
    _name: str
    _enum: int
    _numpy_dtype: np.dtype[Any] | None

    def __init__(self, name: str, enum: int, numpy_dtype: np.dtype[Any] | None) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_enum", enum)
        object.__setattr__(self, "_numpy_dtype", numpy_dtype)

    @property
    def name(self) -> str:
        return self._name

    @property
    def enum(self) -> int:
        return self._enum

    @property
    def numpy_dtype(self) -> np.dtype[Any] | None:
        return self._numpy_dtype

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"DType is immutable: cannot assign to {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"DType is immutable: cannot delete {name!r}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DType) or other.__class__ is not self.__class__:
            return NotImplemented
        return (self._name, self._enum, self._numpy_dtype) == (
            other._name,
            other._enum,
            other._numpy_dtype,
        )

    def __hash__(self) -> int:
        return hash((self._name, self._enum, self._numpy_dtype))

    def __reduce__(self) -> tuple[type[DType], tuple[str, int, np.dtype[Any] | None]]:
        return (DType, (self._name, self._enum, self._numpy_dtype))

    @property
    def itemsize(self) -> int:
        """Bytes per element on disk for fixed-size types; 0 for variable-size ones."""
        if self.numpy_dtype is None or self.numpy_dtype.kind == "O":
            return 0
        return self.numpy_dtype.itemsize

    @property
    def is_fixed_size(self) -> bool:
        return self.itemsize > 0

    @property
    def as_numpy_dtype(self) -> type[Any]:
        """The NumPy scalar type, as ``tf.DType.as_numpy_dtype`` gives it."""
        if self.numpy_dtype is None or self.numpy_dtype.kind == "O":
            return object  # as TF: strings are Python objects
        return self.numpy_dtype.type

    # -- tf.DType's attributes, same values (tests compare them with TF for every dtype) --

    @property
    def size(self) -> int:
        """Bytes per element (`tf.DType.size`); 0 for string, resource and variant."""
        return self.itemsize

    @property
    def as_datatype_enum(self) -> int:
        return self.enum

    @property
    def base_dtype(self) -> DType:
        """The dtype without reference-ness (`foo_ref` -> `foo`)."""
        if self.name.endswith("_ref"):
            return dtype_from_enum(self.enum - 100)
        return self

    @property
    def real_dtype(self) -> DType:
        """float32 for complex64, float64 for complex128, itself otherwise."""
        return {"complex64": _BY_NAME["float32"], "complex128": _BY_NAME["float64"]}.get(
            self.name, self
        )

    @property
    def is_floating(self) -> bool:
        return self.name.startswith(("float", "bfloat"))

    @property
    def is_integer(self) -> bool:
        return self.name.startswith(("int", "uint")) and not self.name.endswith("_ref")

    @property
    def is_unsigned(self) -> bool:
        return self.name.startswith("uint") and not self.name.endswith("_ref")

    @property
    def is_complex(self) -> bool:
        return self.name.startswith("complex") and not self.name.endswith("_ref")

    @property
    def is_bool(self) -> bool:
        return self.name == "bool"

    @property
    def is_quantized(self) -> bool:
        return self.name.startswith(("qint", "quint")) and not self.name.endswith("_ref")

    @property
    def min(self) -> Any:
        """The smallest value (a NumPy scalar for floats, an int for integers), as TF's."""
        return self._limit(True)

    @property
    def max(self) -> Any:
        """The largest finite value (a NumPy scalar for floats, an int for integers)."""
        return self._limit(False)

    def _limit(self, lowest: bool) -> Any:
        if self.numpy_dtype is not None and (self.is_floating or self.is_integer):
            import ml_dtypes

            info: Any
            if self.is_floating:
                info = ml_dtypes.finfo(self.numpy_dtype)  # type: ignore[no-untyped-call]
            else:
                info = ml_dtypes.iinfo(self.numpy_dtype)  # type: ignore[no-untyped-call]
            value = info.min if lowest else info.max
            return int(value) if self.is_integer else self.numpy_dtype.type(value)
        raise TypeError(f"Cannot find {'minimum' if lowest else 'maximum'} value of {self}.")

    @property
    def swap_width(self) -> int:
        """Width of the unit that byte order applies to (complex numbers swap each half)."""
        if self.numpy_dtype is None or not self.is_fixed_size:
            return 1
        if self.numpy_dtype.kind == "c":
            return self.itemsize // 2
        return self.itemsize

    def __repr__(self) -> str:
        return f"tfckpt_lite.{self.name}"


def _np(spec: Any) -> np.dtype[Any]:
    dt: np.dtype[Any] = np.dtype(spec)
    return dt


# Marks the types that come from ml_dtypes under the same name. They are looked up on first
# use: importing ml_dtypes costs about 5 ms, a twentieth of what a fresh process needs to
# import this package and read one float32 tensor.
_ML: Final = "ml_dtypes"

_TABLE: Final[tuple[tuple[int, str, Any], ...]] = (
    (1, "float32", "<f4"),
    (2, "float64", "<f8"),
    (3, "int32", "<i4"),
    (4, "uint8", "u1"),
    (5, "int16", "<i2"),
    (6, "int8", "i1"),
    (7, "string", object),
    (8, "complex64", "<c8"),
    (9, "int64", "<i8"),
    (10, "bool", "?"),
    (11, "qint8", "i1"),
    (12, "quint8", "u1"),
    (13, "qint32", "<i4"),
    (14, "bfloat16", _ML),
    (15, "qint16", "<i2"),
    (16, "quint16", "<u2"),
    (17, "uint16", "<u2"),
    (18, "complex128", "<c16"),
    (19, "float16", "<f2"),
    (20, "resource", None),
    (21, "variant", None),
    (22, "uint32", "<u4"),
    (23, "uint64", "<u8"),
    (24, "float8_e5m2", _ML),
    (25, "float8_e4m3fn", _ML),
    (26, "float8_e4m3fnuz", _ML),
    (27, "float8_e4m3b11fnuz", _ML),
    (28, "float8_e5m2fnuz", _ML),
    (29, "int4", _ML),
    (30, "uint4", _ML),
    (31, "int2", _ML),
    (32, "uint2", _ML),
    (33, "float4_e2m1fn", _ML),
)

_BY_ENUM: Final[dict[int, DType]] = {}
_BY_NAME: Final[dict[str, DType]] = {}
_ALIASES: Final = {"half": "float16", "float": "float32", "double": "float64"}
# NumPy dtype -> TF enum, for writing. Quantized types have no NumPy type of their own, so a
# plain int8 array is DT_INT8, never DT_QINT8.
_FROM_NUMPY: Final[dict[np.dtype[Any], int]] = {}
_ml_loaded = False


def _register(enum: int, name: str, spec: Any) -> None:
    d = DType(name, enum, None if spec is None else _np(spec))
    _BY_ENUM[enum] = d
    _BY_NAME[name] = d
    if d.numpy_dtype is not None and d.numpy_dtype.kind != "O" and not name.startswith("q"):
        _FROM_NUMPY.setdefault(d.numpy_dtype, enum)


def _load_ml_dtypes() -> bool:
    """Register the ml_dtypes types (once); False if they already were."""
    global _ml_loaded
    if _ml_loaded:
        return False
    import ml_dtypes

    for enum, name, spec in _TABLE:
        if spec is _ML:
            _register(enum, name, getattr(ml_dtypes, name, None))
    _ml_loaded = True
    return True


for _enum, _name, _spec in _TABLE:
    if _spec is not _ML:
        _register(_enum, _name, _spec)


def dtype_from_enum(enum: int) -> DType:
    """The DType for an enum value; unknown values get a placeholder named ``DT_<n>``."""
    found = _BY_ENUM.get(enum)
    if found is not None:
        return found
    if _load_ml_dtypes():
        return dtype_from_enum(enum)
    if 100 < enum <= 133 and enum - 100 in _BY_ENUM:
        return DType(_BY_ENUM[enum - 100].name + "_ref", enum, None)
    return DType(f"DT_{enum}", enum, None)


def dtype_from_name(name: str) -> DType:
    name = _ALIASES.get(name, name)
    try:
        return _BY_NAME[name]
    except KeyError:
        if _load_ml_dtypes():
            return dtype_from_name(name)
        raise ValueError(f"unknown TensorFlow dtype name {name!r}") from None


def dtype_of_array(arr: np.ndarray[Any, Any]) -> DType:
    """The DType a NumPy array is saved as. Raises TypeError for arrays TF cannot hold."""
    dt = arr.dtype
    if dt.kind in "OSU":
        return _BY_ENUM[7]
    enum = _FROM_NUMPY.get(dt.newbyteorder("<") if dt.byteorder == ">" else dt)
    if enum is None:
        if _load_ml_dtypes():
            return dtype_of_array(arr)
        raise TypeError(f"arrays of dtype {dt} cannot be stored in a TensorFlow checkpoint")
    return _BY_ENUM[enum]
