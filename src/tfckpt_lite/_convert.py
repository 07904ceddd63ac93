"""Converting checkpoints to and from `.safetensors` and `.npz`, one tensor at a time.

safetensors layout (written and read here with NumPy alone, no dependency):

    u64 little-endian N          length of the JSON header
    N bytes of UTF-8 JSON        {"__metadata__": {str: str},
                                  name: {"dtype": "F32", "shape": [..], "data_offsets": [b, e]}}
                                 padded with spaces so the data starts 8-byte aligned
    data                         every tensor's little-endian row-major bytes; offsets are
                                 relative to the start of the data, contiguous, no holes

Because the header must precede the data, the writer first takes every tensor's dtype and
shape from the checkpoint's index (no tensor read), then streams values in that order: memory
holds one tensor at a time. Reading validates the whole header (dtype codes, shapes, offsets
that tile the data exactly and lie inside the file) before any tensor is decoded.

`.npz` is a zip of `.npy` members written one by one through `zipfile` (ZIP64, stored). NumPy
has no descriptor for ml_dtypes types (bfloat16, float8, int4), so they are stored as the
unsigned integers of the same width and their TF dtype names recorded in the member
`__tfckpt_lite_dtypes__` (a 0-d unicode array holding JSON), which `from_npz` applies back.

Strings and other types a target cannot hold are skipped and reported (`ConversionReport`),
or raise `UnsupportedConversionError` with ``strict=True``. The TF2 object graph (a string
tensor) travels in the safetensors metadata so a round trip keeps it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from ._backend import Progress
from ._dtypes import DType, dtype_from_name
from ._errors import CheckpointError, CorruptCheckpointError, NotACheckpointError
from ._lazy import lazy_module
from ._naming import GROUP_VALUE, OBJECT_GRAPH_KEY, VARIABLE_VALUE_SUFFIX, nest_names
from ._storage import create, filesystem_for, is_remote
from ._tensor_codec import encode_fixed
from ._writer import BundleWriter

if TYPE_CHECKING:
    import base64
    import json
    import zipfile

    from ._api import CheckpointReader, ReaderOrPath
    from ._edit import CastSpec, Globs
    from ._torch import RenameRules
else:  # ~10 ms of imports that only conversions need: see _lazy
    base64 = lazy_module("base64")
    json = lazy_module("json")
    zipfile = lazy_module("zipfile")

__all__ = [
    "ConversionReport",
    "UnsupportedConversionError",
    "from_npz",
    "from_safetensors",
    "read_safetensors_header",
    "to_npz",
    "to_safetensors",
]

_GRAPH_META: Final = "tfckpt_lite.object_graph"
_DTYPES_MEMBER: Final = "__tfckpt_lite_dtypes__"
_MAX_HEADER: Final = 100 << 20  # safetensors' own limit
# Remote sources: bytes fetched ahead of the tensor being written (about twice this is in
# memory at once), so a conversion streams without holding the checkpoint.
READ_AHEAD: Final = 16 << 20

# TF dtype name -> safetensors dtype code. complex64 has a code ("C64") in recent safetensors;
# complex128, int4/uint4 (packed two per byte there), float8 *fnuz variants and strings do not.
_ST_CODES: Final[dict[str, str]] = {
    "bool": "BOOL",
    "uint8": "U8",
    "int8": "I8",
    "float8_e5m2": "F8_E5M2",
    "float8_e4m3fn": "F8_E4M3",
    "int16": "I16",
    "uint16": "U16",
    "float16": "F16",
    "bfloat16": "BF16",
    "int32": "I32",
    "uint32": "U32",
    "float32": "F32",
    "complex64": "C64",
    "float64": "F64",
    "int64": "I64",
    "uint64": "U64",
}
_ST_NAMES: Final = {v: k for k, v in _ST_CODES.items()}


class UnsupportedConversionError(CheckpointError, ValueError):
    """A tensor cannot be represented in the target format (raised with ``strict=True``)."""


@dataclass
class ConversionReport:
    """What a conversion did: the keys written and the keys skipped, with the reason."""

    dst: str
    written: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    #: with `cast`: output name -> number of finite values that overflowed to +-inf
    overflow: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"wrote {len(self.written)} tensors to {self.dst}"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)}:")
            lines += [f"  {k}: {why}" for k, why in self.skipped.items()]
        lines += [
            f"warning: {name}: {n} finite values overflowed to inf in the cast"
            for name, n in self.overflow.items()
        ]
        return "\n".join(lines)


# -- helpers ----------------------------------------------------------------------------------


def _open_reader(src: ReaderOrPath) -> tuple[CheckpointReader, bool]:
    """A CheckpointReader for a path or an already open reader; second item: close it after."""
    from ._api import CheckpointReader, load_checkpoint

    if isinstance(src, CheckpointReader):
        return src, False
    return load_checkpoint(src), True


def _skip(report: ConversionReport, key: str, why: str, strict: bool, path: str) -> None:
    if strict:
        raise UnsupportedConversionError(f"cannot convert: {why}", path=path, key=key)
    report.skipped[key] = why


def _nothing_to_write(report: ConversionReport, path: str) -> UnsupportedConversionError:
    """The error for a conversion whose every tensor is skipped. Raised before `dst` is
    touched: an empty output is never what the caller wanted, and must not replace an existing
    file. (An empty checkpoint still converts to an empty file: nothing is lost.)"""
    reasons = "".join(f"\n  {k}: {why}" for k, why in report.skipped.items())
    return UnsupportedConversionError(
        f"nothing to convert to {report.dst}: every tensor is skipped:{reasons}", path=path
    )


def _output_names(
    reader: CheckpointReader, model_paths: bool, report: ConversionReport
) -> dict[str, str]:
    """Storage key -> name in the output file. With `model_paths`, TF2 variables are named by
    their object-graph model path (``model/dense/kernel``) or at least lose the
    ``/.ATTRIBUTES/VARIABLE_VALUE`` suffix; the graph itself is then left out (its keys would
    no longer exist)."""
    names = {k: k for k in reader}
    if not model_paths:
        return names
    from ._graph import model_name

    graph = reader.object_graph
    out: dict[str, str] = {}
    taken: dict[str, str] = {}
    for key in names:
        if key == OBJECT_GRAPH_KEY:
            report.skipped[key] = "object graph left out: names are model paths"
            continue
        name = model_name(graph, key)
        if name in taken:
            raise UnsupportedConversionError(
                f"keys {taken[name]!r} and {key!r} have the same model path {name!r}",
                path=reader.prefix,
                key=key,
            )
        taken[name] = key
        out[key] = name
    return out


def _selection(
    reader: CheckpointReader, model_paths: bool, report: ConversionReport, edits: dict[str, Any]
) -> tuple[dict[str, str], dict[str, DType], bytes | None]:
    """Storage key -> output name, key -> dtype to cast to, and the object graph to embed
    (None: the source's, if any). Without edits, `_output_names`; with them, the plan of
    `_edit` (the same filters as `tfckpt edit`: select, exclude, strip, keep, rename, cast),
    whose graph is the edited one."""
    if not any(v not in (None, False) for v in edits.values()):
        return _output_names(reader, model_paths, report), {}, None
    from ._edit import plan_edit

    plan = plan_edit(reader, name_based=model_paths, dst=report.dst, **edits)
    names = {i.key: i.name for i in plan.items}
    casts = {i.key: i.to for i in plan.items if i.to is not None}
    if model_paths and reader.object_graph is not None:
        report.skipped[OBJECT_GRAPH_KEY] = "object graph left out: names are model paths"
    return names, casts, plan.graph if plan.graph is not None else (b"" if model_paths else None)


def _edits(args: dict[str, Any]) -> dict[str, Any]:
    return {k: args[k] for k in ("select", "exclude", "strip", "keep", "rename", "cast")}


def _cast_value(
    arr: np.ndarray[Any, Any], to: DType | None, name: str, report: ConversionReport
) -> np.ndarray[Any, Any]:
    if to is None:
        return arr
    from ._edit import cast_array

    out, overflow = cast_array(arr, to)
    if overflow:
        report.overflow[name] = overflow
    return out


# -- checkpoint -> safetensors ----------------------------------------------------------------


def to_safetensors(
    src: ReaderOrPath,
    dst: str | os.PathLike[str],
    *,
    strict: bool = False,
    model_paths: bool = False,
    progress: Progress | None = None,
    select: Globs = None,
    exclude: Globs = None,
    strip: bool = False,
    keep: Globs = None,
    rename: RenameRules | Callable[[str], str | None] | None = None,
    cast: CastSpec = None,
) -> ConversionReport:
    """Write every tensor of a checkpoint to a ``.safetensors`` file, streaming.

    Args:
        src: anything `load_checkpoint` accepts, or an open `CheckpointReader`.
        dst: the output file, replaced atomically.
        strict: raise `UnsupportedConversionError` on a tensor safetensors cannot hold
            (strings, complex128, int4, ...) instead of skipping it.
        model_paths: name tensors by their TF2 model path (``model/dense/kernel``) instead
            of their storage key (``model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE``).
        select, exclude, strip, keep, rename, cast: the filters of `tfckpt_lite.edit`, applied
            on the way (the embedded object graph is edited to match).

    Returns:
        A `ConversionReport` listing the names written and the keys skipped.
    """
    from ._api import read_values

    dst = os.fspath(dst)
    reader, owned = _open_reader(src)
    try:
        report = ConversionReport(dst)
        header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
        plan: list[tuple[str, str, tuple[int, ...], int]] = []
        offset = 0
        names, casts, new_graph = _selection(reader, model_paths, report, _edits(locals()))
        if new_graph:
            header["__metadata__"][_GRAPH_META] = base64.b64encode(new_graph).decode()
        for key, name in names.items():
            dt, shape = casts.get(key) or reader.dtype_info(key), reader.shape(key)
            if name == "__metadata__":
                _skip(report, key, "the name is reserved by safetensors", strict, reader.prefix)
                continue
            if key == OBJECT_GRAPH_KEY and dt.name == "string":
                graph = reader[key].reshape(-1)
                header["__metadata__"][_GRAPH_META] = base64.b64encode(graph[0]).decode()
                continue
            code = _ST_CODES.get(dt.name)
            if code is None:
                _skip(
                    report, key, f"dtype {dt.name} has no safetensors type", strict, reader.prefix
                )
                continue
            nbytes = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
            header[name] = {
                "dtype": code,
                "shape": list(shape),
                "data_offsets": [offset, offset + nbytes],
            }
            plan.append((key, name, shape, nbytes))
            offset += nbytes
        if not plan and report.skipped:
            raise _nothing_to_write(report, reader.prefix)
        blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        blob += b" " * (-(8 + len(blob)) % 8)
        with create(dst) as out:
            out.file.write(len(blob).to_bytes(8, "little"))
            out.file.write(blob)
            values = read_values(reader, [p[0] for p in plan], window=READ_AHEAD)
            for i, ((key, name, shape, nbytes), (_, value)) in enumerate(zip(plan, values)):
                arr = _cast_value(value, casts.get(key), name, report)
                if arr.shape != shape:  # pragma: no cover - the reader guarantees this
                    raise CorruptCheckpointError("value shape differs from index", key=key)
                raw = encode_fixed(arr)
                if raw.nbytes != nbytes:  # pragma: no cover - likewise
                    raise CorruptCheckpointError("value size differs from index", key=key)
                out.file.write(raw.data)
                report.written.append(name)
                if progress is not None:
                    progress(i + 1, len(plan), name)
        return report
    finally:
        if owned:
            reader.close()


def write_safetensors(
    dst: str | os.PathLike[str],
    arrays: Iterable[tuple[str, np.ndarray[Any, Any]]],
    *,
    metadata: dict[str, str] | None = None,
    progress: Progress | None = None,
) -> list[str]:
    """Write named arrays (ml_dtypes bfloat16/float8 included) to a ``.safetensors`` file,
    atomically, in the given order; returns the names written. For tensors that are not in
    a checkpoint (`tfckpt port` writes transformers state dicts with it)."""
    items = list(arrays)
    header: dict[str, Any] = {"__metadata__": {"format": "pt", **(metadata or {})}}
    offset = 0
    for name, arr in items:
        code = _ST_CODES.get(arr.dtype.name, "")
        if not code or name in header:
            why = "a duplicate name" if code else f"dtype {arr.dtype} has no safetensors type"
            raise ValueError(f"arrays: {name!r}: {why}")
        header[name] = {
            "dtype": code,
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + arr.nbytes],
        }
        offset += arr.nbytes
    blob = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    blob += b" " * (-(8 + len(blob)) % 8)
    with create(dst) as out:
        out.file.write(len(blob).to_bytes(8, "little"))
        out.file.write(blob)
        for i, (name, arr) in enumerate(items):
            out.file.write(encode_fixed(arr).data)
            if progress is not None:
                progress(i + 1, len(items), name)
    return [name for name, _ in items]


# -- safetensors -> arrays --------------------------------------------------------------------


@dataclass
class _StEntry:
    key: str
    dtype: DType
    shape: tuple[int, ...]
    begin: int
    end: int


def read_safetensors_header(
    head: bytes, file_size: int, path: str
) -> tuple[list[_StEntry], dict[str, str], int]:
    """Parse and fully validate a safetensors header: (entries, metadata, data start).

    `head` must hold at least the first 8 + N bytes. Offsets must tile [0, data size) with
    no gap or overlap, and each range must equal elements x itemsize.
    """

    def bad(msg: str) -> CorruptCheckpointError:
        return CorruptCheckpointError(f"invalid safetensors file: {msg}", path=path)

    if len(head) < 8:
        raise bad("shorter than its 8-byte header length")
    n = int.from_bytes(head[:8], "little")
    if n > _MAX_HEADER or 8 + n > file_size:
        raise bad(f"header length {n} exceeds the file ({file_size} bytes) or the limit")
    if len(head) < 8 + n:
        raise bad("header is truncated")
    try:
        doc = json.loads(bytes(head[8 : 8 + n]).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise bad(f"header is not UTF-8 JSON ({e})") from None
    if not isinstance(doc, dict):
        raise bad("header is not a JSON object")
    meta = doc.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in meta.items()
    ):
        raise bad("__metadata__ must map strings to strings")
    data_size = file_size - 8 - n
    entries: list[_StEntry] = []
    for key, info in doc.items():
        if not isinstance(info, dict):
            raise bad(f"entry {key!r} is not an object")
        code, shape, offs = info.get("dtype"), info.get("shape"), info.get("data_offsets")
        name = _ST_NAMES.get(code) if isinstance(code, str) else None
        if name is None:
            raise bad(f"tensor {key!r} has unsupported dtype {code!r}")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise bad(f"tensor {key!r} has an invalid shape {shape!r}")
        if (
            not isinstance(offs, list)
            or len(offs) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)
            or not 0 <= offs[0] <= offs[1] <= data_size
        ):
            raise bad(f"tensor {key!r} has invalid data_offsets {offs!r}")
        dt = dtype_from_name(name)
        count = 1
        for d in shape:
            count *= d
        if count * dt.itemsize != offs[1] - offs[0]:
            raise bad(
                f"tensor {key!r}: {name}{shape} needs {count * dt.itemsize} bytes, "
                f"data_offsets give {offs[1] - offs[0]}"
            )
        entries.append(_StEntry(key, dt, tuple(shape), offs[0], offs[1]))
    pos = 0
    for ent in sorted(entries, key=lambda x: (x.begin, x.end)):
        if ent.begin != pos:
            raise bad(f"tensor {ent.key!r} starts at {ent.begin}, expected {pos} (gap or overlap)")
        pos = ent.end
    if pos != data_size:
        raise bad(f"tensors cover {pos} data bytes, the file holds {data_size}")
    return entries, meta, 8 + n


def _nest(items: Iterable[tuple[str, np.ndarray[Any, Any]]], path: str) -> dict[str, Any]:
    """Names (TF2 keys without ``/.ATTRIBUTES/VARIABLE_VALUE``) nested at ``/`` by
    `nest_names`, for an object graph: every name must be an object path, so an empty
    component, or a name that is also a group (`nest_names` keeps its value under ``""``,
    a place an object graph does not have), is refused."""

    def names() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
        for name, arr in items:
            name = name.removesuffix(VARIABLE_VALUE_SUFFIX)
            if GROUP_VALUE in name.split("/"):
                raise UnsupportedConversionError(
                    "name has an empty path component; cannot nest it", path=path, key=name
                )
            yield name, arr

    try:
        tree = nest_names(names())
    except UnsupportedConversionError:
        raise
    except ValueError as e:
        raise UnsupportedConversionError(f"cannot nest the names: {e}", path=path) from None
    stack: list[tuple[str, dict[str, Any]]] = [("", tree)]
    while stack:
        where, group = stack.pop()
        if GROUP_VALUE in group:
            raise UnsupportedConversionError(
                "name is a tensor and also a group of tensors", path=path, key=where
            )
        stack += [
            (f"{where}/{k}" if where else k, v) for k, v in group.items() if isinstance(v, dict)
        ]
    return tree


def _write_checkpoint(
    prefix: str | os.PathLike[str],
    items: Iterable[tuple[str, np.ndarray[Any, Any]]],
    total: int,
    progress: Progress | None,
    object_graph: bool,
    src_path: str,
    raw_graph: bytes | None = None,
) -> str:
    if object_graph:
        from ._checkpoint import Checkpoint

        tree = _nest(items, src_path)
        out: str = Checkpoint(**tree).write(prefix)
        return out
    with BundleWriter(prefix) as w:
        names: set[str] = set()
        for i, (key, arr) in enumerate(items):
            w.add(key, arr)
            names.add(key)
            if progress is not None:
                progress(i + 1, total, key)
        if raw_graph is not None and OBJECT_GRAPH_KEY not in names:
            w.add(OBJECT_GRAPH_KEY, raw_graph)
    return w.prefix


def from_safetensors(
    src: str | os.PathLike[str],
    prefix: str | os.PathLike[str],
    *,
    object_graph: bool = False,
    progress: Progress | None = None,
) -> str:
    """Write a TF checkpoint at `prefix` from a ``.safetensors`` file; returns the prefix.

    By default tensor names become checkpoint keys unchanged: a name-based checkpoint, which
    `tf.train.load_checkpoint` and `tf.compat.v1.train.Saver` read; an object graph kept in
    the metadata by `to_safetensors` is written back under ``_CHECKPOINTABLE_OBJECT_GRAPH``.
    With ``object_graph=True`` names are nested at ``/`` and written as a TF2 object-based
    checkpoint (`Checkpoint`), which ``tf.train.Checkpoint(model=...).read(prefix)``
    restores into a `tf.Module` tree with the same attribute names.
    Memory: the file is memory-mapped and each tensor streamed from the mapping.
    """
    path = os.fspath(src)
    fs, where = filesystem_for(path)  # a URL reads remotely: a range request per tensor
    source = fs.open_source(where)
    try:
        head = bytes(source.read(0, min(source.size, 8)))
        if len(head) == 8:
            n = int.from_bytes(head, "little")
            if n <= _MAX_HEADER and 8 + n <= source.size:
                head = bytes(source.read(0, 8 + n))
        entries, meta, start = read_safetensors_header(head, source.size, path)
        graph = meta.get(_GRAPH_META)
        raw_graph = None
        if graph is not None:
            try:
                raw_graph = base64.b64decode(graph, validate=True)
            except ValueError:
                raise CorruptCheckpointError(
                    "object graph in the safetensors metadata is not base64", path=path
                ) from None

        def arrays() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
            for ent in entries:
                buf = source.read(start + ent.begin, ent.end - ent.begin)
                assert ent.dtype.numpy_dtype is not None
                if ent.end == ent.begin:
                    yield ent.key, np.zeros(ent.shape, ent.dtype.numpy_dtype)
                else:
                    yield ent.key, np.frombuffer(buf, ent.dtype.numpy_dtype).reshape(ent.shape)

        return _write_checkpoint(
            prefix, arrays(), len(entries), progress, object_graph, path, raw_graph
        )
    finally:
        source.close()


# -- npz --------------------------------------------------------------------------------------


def to_npz(
    src: ReaderOrPath,
    dst: str | os.PathLike[str],
    *,
    strict: bool = False,
    model_paths: bool = False,
    progress: Progress | None = None,
    select: Globs = None,
    exclude: Globs = None,
    strip: bool = False,
    keep: Globs = None,
    rename: RenameRules | Callable[[str], str | None] | None = None,
    cast: CastSpec = None,
) -> ConversionReport:
    """Write every tensor of a checkpoint to an uncompressed ``.npz``, streaming.

    ml_dtypes types (bfloat16, float8, int4) are stored as same-width unsigned integers, with
    their dtype names in the ``__tfckpt_lite_dtypes__`` member; `from_npz` restores them.
    Strings are skipped (NumPy could only store them pickled) or raise with ``strict=True``.
    `model_paths` and the filters (select, exclude, strip, keep, rename, cast): as for
    `to_safetensors`.
    """
    from ._api import read_values

    dst = os.fspath(dst)
    reader, owned = _open_reader(src)
    try:
        report = ConversionReport(dst)
        names, casts, _ = _selection(reader, model_paths, report, _edits(locals()))
        keys: list[str] = []
        for key, name in names.items():
            dt = casts.get(key) or reader.dtype_info(key)
            if dt.numpy_dtype is None or not dt.is_fixed_size:
                why = f"dtype {dt.name} cannot be stored in .npz without pickle"
                _skip(report, key, why, strict, reader.prefix)
            elif name == _DTYPES_MEMBER:
                _skip(report, key, "name is reserved", strict, reader.prefix)
            else:
                keys.append(key)
        if not keys and report.skipped:
            raise _nothing_to_write(report, reader.prefix)
        special: dict[str, str] = {}
        with (
            create(dst) as out,
            zipfile.ZipFile(out.file, "w", zipfile.ZIP_STORED, allowZip64=True) as z,
        ):
            values = read_values(reader, keys, window=READ_AHEAD)
            for i, (key, value) in enumerate(values):
                dt = casts.get(key) or reader.dtype_info(key)
                name = names[key]
                arr = _cast_value(value, casts.get(key), name, report)
                if not _npy_native(arr.dtype):
                    special[name] = dt.name
                    arr = arr.view(np.dtype(f"<u{max(arr.dtype.itemsize, 1)}"))
                with z.open(name + ".npy", "w", force_zip64=True) as m:
                    np.lib.format.write_array(m, np.asarray(arr, order="C"), allow_pickle=False)
                report.written.append(name)
                if progress is not None:
                    progress(i + 1, len(keys), name)
            if special:
                with z.open(_DTYPES_MEMBER + ".npy", "w") as m:
                    np.lib.format.write_array(m, np.array(json.dumps(special)), allow_pickle=False)
        return report
    finally:
        if owned:
            reader.close()


def _npy_native(dt: np.dtype[Any]) -> bool:
    """Whether NumPy's .npy format describes this dtype (ml_dtypes types come out as void)."""
    # ml_dtypes types claim kind "f"/"i"/"V" but their scalar types live outside NumPy.
    return dt.kind in "biufc" and dt.type.__module__ == "numpy"


def from_npz(
    src: str | os.PathLike[str],
    prefix: str | os.PathLike[str],
    *,
    object_graph: bool = False,
    progress: Progress | None = None,
) -> str:
    """Write a TF checkpoint at `prefix` from an ``.npz``, one member at a time (with
    ``object_graph=True``, see `from_safetensors`, all members are read first)."""
    path = os.fspath(src)
    try:
        fs, where = filesystem_for(path)
        # A URL: zipfile seeks within fsspec's buffered file (range requests).
        z = zipfile.ZipFile(fs.fs.open(where, "rb") if is_remote(fs) else where)  # type: ignore[attr-defined]
    except FileNotFoundError:
        raise
    except (zipfile.BadZipFile, OSError) as e:
        raise NotACheckpointError(f"not a readable .npz file ({e})", path=path) from None
    with z:
        names = [n for n in z.namelist() if n.endswith(".npy")]
        special: dict[str, str] = {}
        if _DTYPES_MEMBER + ".npy" in names:
            names.remove(_DTYPES_MEMBER + ".npy")
            with z.open(_DTYPES_MEMBER + ".npy") as m:
                try:
                    special = json.loads(str(np.lib.format.read_array(m, allow_pickle=False)))
                except ValueError as e:
                    raise CorruptCheckpointError(
                        f"bad {_DTYPES_MEMBER} member ({e})", path=path
                    ) from None

        def arrays() -> Iterator[tuple[str, np.ndarray[Any, Any]]]:
            for name in names:
                key = name[: -len(".npy")]
                with z.open(name) as m:
                    try:
                        arr = np.lib.format.read_array(m, allow_pickle=False)
                    except ValueError as e:
                        raise CorruptCheckpointError(
                            f"member {name!r} is not a plain .npy array ({e})", path=path
                        ) from None
                if key in special:
                    dt = dtype_from_name(special[key])
                    assert dt.numpy_dtype is not None
                    arr = arr.view(dt.numpy_dtype)
                yield key, arr

        return _write_checkpoint(prefix, arrays(), len(names), progress, object_graph, path)
