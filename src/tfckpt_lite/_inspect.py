"""Looking into checkpoints: listings, statistics, differences, trees, and their rendering.

Everything `tfckpt` prints is computed here by typed functions that Python code can call as
well: `list_tensors`, `tensor_stats`, `diff_checkpoints`, `checkpoint_tree`, `resolve_name`.
Results are plain data (dataclasses, dicts of JSON-ready values); the `render_*` and `*_lines`
functions turn them into the text the CLI prints, and `to_json_value` / `write_json` into its
JSON. Nothing here parses arguments or chooses exit codes (that is `_cli`).

Invariants:
  * statistics and differences stream over a tensor in chunks of `CHUNK` elements in float64,
    so the extra memory is bounded whatever the tensor's size;
  * NaN equals NaN at the same place in a diff (a checkpoint compared with itself is equal),
    +inf equals +inf, and a NaN on one side only makes the difference NaN;
  * JSON output is exact: floats keep their float64 value, NaN/inf become strings, bytes
    become text (or ``{"hex": ...}`` when not UTF-8), complex numbers ``[re, im]`` pairs.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TextIO

import numpy as np

from ._backend import Progress
from ._errors import CheckpointError, InvalidArgumentError, TensorNotFoundError
from ._graph import model_path
from ._naming import (
    GROUP_VALUE,
    OBJECT_ATTRIBUTES,
    OBJECT_GRAPH_KEY,
    VARIABLE_VALUE,
    VARIABLE_VALUE_SUFFIX,
    nest_names,
)

if TYPE_CHECKING:
    from ._api import CheckpointReader
    from ._graph import GraphNode, ObjectGraph

__all__ = [
    "CHUNK",
    "DUMP_LIMIT",
    "CheckpointDiff",
    "CheckpointTree",
    "TensorChange",
    "TensorInfo",
    "checkpoint_tree",
    "close_names",
    "diff_checkpoints",
    "human_size",
    "list_tensors",
    "listing_lines",
    "max_abs_diff",
    "model_path",
    "preview",
    "resolve_name",
    "shape_str",
    "stats_lines",
    "tensor_json",
    "tensor_size",
    "tensor_stats",
    "to_json_value",
    "tree_lines",
    "write_json",
]

CHUNK: Final = 1 << 20  # elements per chunk when computing statistics and differences
DUMP_LIMIT: Final = 1000  # elements shown of a tensor unless the whole of it is asked for

#: ``progress(done, total, key)``, called after each tensor of a long operation.


# -- formatting helpers -----------------------------------------------------------------------


def human_size(n: int) -> str:
    """``70 B``, ``1.5 KiB``, ``3.0 MiB`` ... (binary units, one decimal)."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def shape_str(shape: Sequence[int]) -> str:
    """``[2,3]``: a shape as `tfckpt` prints it (no spaces, ``[]`` for a scalar)."""
    return "[" + ",".join(str(d) for d in shape) + "]"


def to_json_value(arr: np.ndarray[Any, Any]) -> Any:
    """Nested lists for JSON: floats kept exact, NaN/inf as strings, bytes as text."""
    if arr.dtype.kind == "O":
        flat = [_bytes_json(v) for v in arr.reshape(-1).tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    if arr.dtype.kind == "c":
        pairs = np.stack([arr.real, arr.imag], axis=-1)
        return to_json_value(pairs)
    if arr.dtype.kind not in "biuf":  # ml_dtypes: bfloat16, float8, int4 ...
        arr = arr.astype(np.float64 if "float" in arr.dtype.name else np.int64)
    if arr.dtype.kind == "f":
        return _fix_floats(arr.astype(np.float64).tolist())
    return arr.tolist()


def _fix_floats(obj: Any) -> Any:
    if isinstance(obj, list):
        return [_fix_floats(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return "nan" if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


def _bytes_json(v: bytes) -> Any:
    try:
        return v.decode("utf-8")
    except UnicodeDecodeError:
        return {"hex": v.hex()}


def tensor_json(
    name: str, dtype: str, arr: np.ndarray[Any, Any], *, limit: int | None = DUMP_LIMIT
) -> dict[str, Any]:
    """A tensor as JSON: ``name``, ``dtype``, ``shape`` and ``values`` (nested lists). Past
    `limit` elements, ``values`` holds only the first `limit` of them, flattened in row-major
    order, and ``"truncated": true`` says so; ``limit=None`` gives every element."""
    doc: dict[str, Any] = {"name": name, "dtype": dtype, "shape": list(arr.shape)}
    if limit is not None and arr.size > limit:
        doc["values"] = to_json_value(arr.reshape(-1)[:limit])
        doc["truncated"] = True
    else:
        doc["values"] = to_json_value(arr)
    return doc


def write_json(obj: Any, stream: TextIO, indent: int | None = 1) -> None:
    """`obj` as JSON on `stream`, non-ASCII kept as is, then a newline. Indented output
    also works for dicts nested deeper than Python's recursion limit (a hostile object
    graph's tree); compact output (``indent=None``) streams, for big tensors."""
    if indent is None:
        json.dump(obj, stream, ensure_ascii=False)
    else:
        try:
            text = json.dumps(obj, indent=indent, ensure_ascii=False)
        except RecursionError:
            text = _deep_json(obj, indent)
        stream.write(text)
    stream.write("\n")


def _deep_json(obj: dict[str, Any], indent: int) -> str:
    """`json.dumps(obj, indent=indent)` for nested dicts of any depth (an explicit stack);
    values other than dicts go through `json.dumps`."""
    if not obj:
        return "{}"
    parts = ["{"]
    stack: list[list[Any]] = [[iter(obj.items()), 1, True]]
    while stack:
        frame = stack[-1]
        items, level, first = frame
        item = next(items, None)
        if item is None:
            stack.pop()
            parts.append("\n" + " " * (indent * (level - 1)) + "}")
            continue
        key, value = item
        frame[2] = False
        pad = "\n" + " " * (indent * level)
        parts.append(("" if first else ",") + pad + json.dumps(key, ensure_ascii=False) + ": ")
        if isinstance(value, dict) and value:
            parts.append("{")
            stack.append([iter(value.items()), level + 1, True])
        else:
            parts.append(json.dumps(value, indent=indent, ensure_ascii=False).replace("\n", pad))
    return "".join(parts)


# -- names ------------------------------------------------------------------------------------


def _lookup(reader: CheckpointReader, name: str) -> str | None:
    if name in reader:
        return name
    if name.endswith(":0") and name[:-2] in reader:
        return name[:-2]
    graph = reader.object_graph
    if graph is not None:
        for key in reader:
            if model_path(graph, key) == name:
                return key
        if name + VARIABLE_VALUE_SUFFIX in reader:
            return name + VARIABLE_VALUE_SUFFIX
    return None


def close_names(name: str, *readers: CheckpointReader, n: int = 3) -> list[str]:
    """Up to `n` keys or model paths of `readers` that look like `name` (difflib's ratio)."""
    candidates: set[str] = set()
    for r in readers:
        candidates.update(r)
        graph = r.object_graph
        if graph is not None:
            candidates.update(p for k in r if (p := model_path(graph, k)) is not None)
    candidates.discard(OBJECT_GRAPH_KEY)
    return difflib.get_close_matches(name, sorted(candidates), n=n)


def resolve_name(reader: CheckpointReader, name: str, *more: CheckpointReader) -> str:
    """The storage key for `name` (a key, a key with ``:0``, or a model path) in `reader`, or
    else in the first of `more` that has it.

    Raises:
        TensorNotFoundError: nothing matches; the message suggests close keys and paths.
    """
    for r in (reader, *more):
        key = _lookup(r, name)
        if key is not None:
            return key
    close = close_names(name, reader, *more)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise TensorNotFoundError(f"no tensor named {name!r}{hint}", path=reader.prefix, key=name)


# -- listing ----------------------------------------------------------------------------------


def tensor_size(reader: CheckpointReader, key: str) -> int:
    """Bytes the tensor occupies in its data file(s)."""
    dt = reader.dtype_info(key)
    if dt.is_fixed_size:
        return int(np.prod(reader.shape(key), dtype=np.int64)) * dt.itemsize
    try:
        return reader.stored_size(key)
    except CheckpointError:
        return 0


@dataclass(frozen=True)
class TensorInfo:
    """One row of a listing: `name` as shown (a model path with ``model_paths``), the storage
    `key`, TF's dtype name, the shape and the bytes stored."""

    name: str
    key: str
    dtype: str
    shape: tuple[int, ...]
    size: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "key": self.key,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "size": self.size,
        }


def list_tensors(
    reader: CheckpointReader,
    patterns: Sequence[str] = (),
    *,
    model_paths: bool = False,
    sort: str = "name",
) -> list[TensorInfo]:
    """The tensors of `reader` whose key (or shown model path) matches one of the shell
    `patterns` (all when empty), sorted by ``"name"`` or by ``"size"`` (largest first)."""
    if sort not in ("name", "size"):
        raise ValueError(f"sort must be 'name' or 'size', not {sort!r}")
    graph = reader.object_graph if model_paths else None
    rows: list[TensorInfo] = []
    for key in reader:
        shown = (model_path(graph, key) or key) if graph is not None else key
        if patterns and not any(
            fnmatch.fnmatchcase(shown, p) or fnmatch.fnmatchcase(key, p) for p in patterns
        ):
            continue
        rows.append(
            TensorInfo(shown, key, reader.dtype(key), reader.shape(key), tensor_size(reader, key))
        )
    if graph is not None:
        rows.sort(key=lambda x: x.name)
    if sort == "size":
        rows.sort(key=lambda x: -x.size)
    return rows


def listing_lines(rows: Sequence[TensorInfo], *, exact_sizes: bool = False) -> list[str]:
    """Aligned ``name  dtype  shape  size`` lines, as `tfckpt ls` prints them."""
    if not rows:
        return []
    w_name = max(len(x.name) for x in rows)
    w_dtype = max(len(x.dtype) for x in rows)
    w_shape = max(len(shape_str(x.shape)) for x in rows)
    lines = []
    for x in rows:
        size = str(x.size) if exact_sizes else human_size(x.size)
        lines.append(
            f"{x.name:<{w_name}}  {x.dtype:<{w_dtype}}  {shape_str(x.shape):<{w_shape}}  {size:>10}"
        )
    return lines


# -- statistics -------------------------------------------------------------------------------


def _chunks(arr: np.ndarray[Any, Any]) -> Iterator[np.ndarray[Any, Any]]:
    flat = arr.reshape(-1)
    for i in range(0, flat.size, CHUNK):
        yield flat[i : i + CHUNK]


def tensor_stats(arr: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Summary statistics, JSON-ready. Numbers: ``count``, ``min``/``max``/``mean``/``std``
    over the finite values (None when there are none), ``nan``, ``inf``, ``zeros``; complex
    tensors are summarised by magnitude (``"of": "abs"``). Booleans: ``true``/``false``.
    Strings: ``min_len``/``max_len``. Computed in float64, chunk by chunk."""
    out: dict[str, Any] = {"count": int(arr.size)}
    if arr.dtype.kind == "O":
        lens = [len(v) for v in arr.reshape(-1).tolist()]
        out["min_len"] = min(lens) if lens else None
        out["max_len"] = max(lens) if lens else None
        return out
    if arr.dtype.kind == "b":
        out["true"] = int(np.count_nonzero(arr))
        out["false"] = int(arr.size - out["true"])
        return out
    is_complex = arr.dtype.kind == "c"
    n = nan = inf = zeros = 0
    lo, hi = math.inf, -math.inf
    total = total_sq = 0.0
    for chunk in _chunks(arr):
        c = np.abs(chunk).astype(np.float64) if is_complex else chunk.astype(np.float64)
        nan += int(np.isnan(c).sum())
        inf += int(np.isinf(c).sum())
        zeros += int(np.count_nonzero(chunk == 0))
        finite = c[np.isfinite(c)]
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
            total += float(finite.sum())
            total_sq += float(np.square(finite).sum())
            n += finite.size
    mean = total / n if n else math.nan
    var = max(total_sq / n - mean * mean, 0.0) if n else math.nan
    out.update(
        {
            "min": lo if n else None,
            "max": hi if n else None,
            "mean": mean if n else None,
            "std": math.sqrt(var) if n else None,
            "nan": nan,
            "inf": inf,
            "zeros": zeros,
        }
    )
    if is_complex:
        out["of"] = "abs"
    return out


def preview(arr: np.ndarray[Any, Any], n: int = 6) -> str:
    """The first `n` values, flattened: ``[0., 1., 2., ...]``."""
    flat = arr.reshape(-1)[:n]
    body = np.array2string(flat, separator=", ", threshold=n + 1, max_line_width=10**6)
    return body[:-1] + (", ...]" if arr.size > n else "]")


def stats_lines(stats: dict[str, Any]) -> list[str]:
    """``min:    -2`` ... one line per statistic (not the count), as `tfckpt show` prints."""
    return [
        f"{k + ':':<7} {v:.6g}" if isinstance(v, float) else f"{k + ':':<7} {v}"
        for k, v in stats.items()
        if k != "count"
    ]


# -- differences ------------------------------------------------------------------------------


def max_abs_diff(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float | None:
    """Largest |a - b| of two same-shape arrays (NaN where exactly one side is NaN); None for
    strings and booleans, which only compare equal or not."""
    if a.dtype.kind == "O" or a.dtype.kind == "b":
        return None
    worst = 0.0
    for ca, cb in zip(_chunks(a), _chunks(b)):
        if a.dtype.kind == "c":
            d = np.abs(ca.astype(np.complex128) - cb.astype(np.complex128))
            na, nb = np.isnan(ca), np.isnan(cb)
        else:
            fa, fb = ca.astype(np.float64), cb.astype(np.float64)
            with np.errstate(invalid="ignore", over="ignore"):
                d = np.abs(fa - fb)
            na, nb = np.isnan(fa), np.isnan(fb)
            # inf - inf of the same sign is equal, not NaN
            d[np.isinf(fa) & (fa == fb)] = 0.0
        d[na & nb] = 0.0
        if np.any(na ^ nb):
            return math.nan
        if d.size:
            worst = max(worst, float(d.max()))
    return worst


@dataclass(frozen=True)
class TensorChange:
    """A tensor present on both sides that differs: in dtype, in shape (then values are not
    compared), or in values: `max_abs_diff` above the tolerance (NaN when a NaN moved), or
    `values_differ` for strings and booleans."""

    name: str
    dtype: tuple[str, str] | None = None
    shape: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    max_abs_diff: float | None = None
    values_differ: bool = False

    def to_json(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"name": self.name}
        if self.dtype is not None:
            rec["dtype"] = list(self.dtype)
        if self.shape is not None:
            rec["shape"] = [list(self.shape[0]), list(self.shape[1])]
        if self.max_abs_diff is not None:
            mad = self.max_abs_diff
            rec["max_abs_diff"] = "nan" if math.isnan(mad) else mad
        if self.values_differ:
            rec["values"] = "differ"
        return rec

    def describe(self) -> str:
        """``dtype float32 -> bfloat16, max abs diff 0.25``."""
        parts = []
        if self.dtype is not None:
            parts.append(f"dtype {self.dtype[0]} -> {self.dtype[1]}")
        if self.shape is not None:
            parts.append(f"shape {shape_str(self.shape[0])} -> {shape_str(self.shape[1])}")
        if self.max_abs_diff is not None:
            parts.append(f"max abs diff {format(self.max_abs_diff, '.6g')}")
        if self.values_differ:
            parts.append("values differ")
        return ", ".join(parts)


@dataclass(frozen=True)
class CheckpointDiff:
    """What changed from checkpoint `a` to checkpoint `b` (prefixes as opened)."""

    a: str
    b: str
    added: list[TensorInfo] = field(default_factory=list)
    removed: list[TensorInfo] = field(default_factory=list)
    changed: list[TensorChange] = field(default_factory=list)
    unchanged: int = 0

    @property
    def differs(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def to_json(self) -> dict[str, Any]:
        def short(t: TensorInfo) -> dict[str, Any]:
            return {"name": t.name, "dtype": t.dtype, "shape": list(t.shape)}

        return {
            "a": self.a,
            "b": self.b,
            "added": [short(t) for t in self.added],
            "removed": [short(t) for t in self.removed],
            "changed": [c.to_json() for c in self.changed],
            "unchanged": self.unchanged,
        }

    def lines(self, *, summary: bool = True) -> list[str]:
        """``- removed``, ``+ added``, ``~ changed`` lines, then a count line."""
        out = [f"- {t.name}  {t.dtype}{shape_str(t.shape)}" for t in self.removed]
        out += [f"+ {t.name}  {t.dtype}{shape_str(t.shape)}" for t in self.added]
        out += [f"~ {c.name}  {c.describe()}" for c in self.changed]
        if summary:
            out.append(
                f"{len(self.added)} added, {len(self.removed)} removed, "
                f"{len(self.changed)} changed, {self.unchanged} unchanged"
            )
        return out


def _compare(
    ra: CheckpointReader, rb: CheckpointReader, key: str, atol: float
) -> TensorChange | None:
    da, db = ra.dtype(key), rb.dtype(key)
    sa, sb = ra.shape(key), rb.shape(key)
    if da != db or sa != sb:
        return TensorChange(
            key, dtype=(da, db) if da != db else None, shape=(sa, sb) if sa != sb else None
        )
    if da in ("variant", "resource"):  # no readable value: equal by dtype and shape
        return None
    va, vb = ra[key], rb[key]
    mad = max_abs_diff(va, vb)
    if mad is None:
        return None if np.array_equal(va, vb) else TensorChange(key, values_differ=True)
    if math.isnan(mad) or mad > atol:
        return TensorChange(key, max_abs_diff=mad)
    return None


def diff_checkpoints(
    a: CheckpointReader,
    b: CheckpointReader,
    *,
    atol: float = 0.0,
    keys: Iterable[str] | None = None,
    progress: Progress | None = None,
) -> CheckpointDiff:
    """Compare two open checkpoints key by key: added (in `b` only), removed (in `a` only),
    changed (dtype, shape, or values further apart than `atol`), and the count unchanged.
    `keys` limits the comparison to those storage keys. Values are read one tensor at a time,
    checksums verified."""
    ka, kb = set(a), set(b)
    if keys is not None:
        wanted = set(keys)
        ka, kb = ka & wanted, kb & wanted
    common = sorted(ka & kb)
    changed: list[TensorChange] = []
    for i, key in enumerate(common):
        if progress is not None:
            progress(i + 1, len(common), key)
        change = _compare(a, b, key, atol)
        if change is not None:
            changed.append(change)

    def info(r: CheckpointReader, k: str) -> TensorInfo:
        return TensorInfo(k, k, r.dtype(k), r.shape(k), 0)

    return CheckpointDiff(
        a=a.prefix,
        b=b.prefix,
        added=[info(b, k) for k in sorted(kb - ka)],
        removed=[info(a, k) for k in sorted(ka - kb)],
        changed=changed,
        unchanged=len(common) - len(changed),
    )


# -- trees ------------------------------------------------------------------------------------

#: A tree: name -> subtree, a tensor (`TensorInfo`), or text: a note in parentheses, or a key
#: the object graph names but the checkpoint does not hold.
Tree = dict[str, Any]


@dataclass(frozen=True)
class CheckpointTree:
    """`tree` nested by the object graph (``by == "object graph"``) or, for name-based
    checkpoints, by the ``/`` in keys (``by == "names"``, `nest_names`' layout)."""

    path: str
    by: str
    tree: Tree

    def to_json(self) -> dict[str, Any]:
        """Tensors become ``{"key", "dtype", "shape", "size"}`` objects; the rest as is."""

        def convert(node: Tree) -> Tree:
            out: Tree = {}
            stack = [(node, out)]  # without recursion: object graphs may nest deeply
            while stack:
                src, dst = stack.pop()
                for name, sub in src.items():
                    if isinstance(sub, dict):
                        dst[name] = {}
                        stack.append((sub, dst[name]))
                    elif isinstance(sub, TensorInfo):
                        dst[name] = {k: v for k, v in sub.to_json().items() if k != "name"}
                    else:
                        dst[name] = sub
            return out

        return {"path": self.path, "by": self.by, "tree": convert(self.tree)}


def _with_tensors(tree: Tree, reader: CheckpointReader) -> Tree:
    """`tree` with every leaf that is a key of `reader` replaced by its `TensorInfo`."""
    stack = [tree]
    while stack:
        node = stack.pop()
        for name, sub in node.items():
            if isinstance(sub, dict):
                stack.append(sub)
            elif isinstance(sub, str) and sub in reader:
                shape = reader.shape(sub)
                node[name] = TensorInfo(
                    sub, sub, reader.dtype(sub), shape, tensor_size(reader, sub)
                )
    return tree


def _object_tree(graph: ObjectGraph, show_empty: bool = False) -> Tree:
    """Nested dicts following the object graph: child name -> subtree; a variable is a leaf
    ``name -> storage key``; its optimizer slots are leaves ``name (slot s)``; other
    attributes ``name/.ATTRIBUTES/attr``. A node reached again (graphs share nodes and may
    have cycles) is shown once, then as ``(same object as PATH)``."""
    # original variable node id -> [(slot name, slot node)], from the optimizers' records
    slots: dict[int, list[tuple[str, GraphNode]]] = {}
    for node in graph:
        for sv in node.slot_variables:
            slots.setdefault(sv.original_variable, []).append(
                (sv.slot_name, graph[sv.slot_variable])
            )

    def leaves(name: str, node: GraphNode, out: Tree) -> None:
        attrs = dict(node.attributes)
        value = attrs.pop(VARIABLE_VALUE, None)
        if value is not None:
            out[name] = value.checkpoint_key
        for attr, a in attrs.items():
            out[f"{name}/{OBJECT_ATTRIBUTES}/{attr}"] = a.checkpoint_key
        for slot_name, slot_node in slots.get(node.id, []):
            for a in slot_node.attributes.values():
                out[f"{name} (slot {slot_name})"] = a.checkpoint_key

    # The graph's walk gives the edges depth first; every object entered gets a subtree,
    # placed at its edge so entries keep the graph's child order. Then, children before
    # parents, an object without children becomes its leaves, in place.
    top: Tree = {}
    subtrees: dict[int, Tree] = {0: top}  # node id -> its subtree (each is entered once)
    entered: list[tuple[Tree, GraphNode]] = [(top, graph.root)]
    for step in graph.walk():
        parent = subtrees[step.parent.id]
        first = step.first_seen
        if first is not None:
            parent[step.name] = f"(same object as {'/'.join(first) or 'the root'})"
            continue
        sub: Tree = {}
        parent[step.name] = sub
        subtrees[step.node.id] = sub
        entered.append((sub, step.node))
    nodes = {id(sub): node for sub, node in entered}
    for sub, _ in reversed(entered):
        items = list(sub.items())
        sub.clear()
        for name, child in items:
            if not isinstance(child, dict) or id(child) not in nodes:
                sub[name] = child
            elif child:  # an object with children; its own tensors (rare) are listed as "."
                leaves(".", nodes[id(child)], child)
                sub[name] = child
            else:
                before = len(sub)
                leaves(name, nodes[id(child)], sub)
                if len(sub) == before and show_empty:
                    sub[name] = "(no tensors)"
    return top


def checkpoint_tree(reader: CheckpointReader, *, show_empty: bool = False) -> CheckpointTree:
    """The checkpoint's structure: its object graph when it has one (objects holding no
    tensor only with `show_empty`), else its keys nested at ``/`` by `nest_names` (as
    `load_tree` nests them: a key that is also a group of keys is the group's ``""``)."""
    graph = reader.object_graph
    if graph is not None:
        tree = _with_tensors(_object_tree(graph, show_empty), reader)
        return CheckpointTree(reader.prefix, "object graph", tree)
    keys = ((k, k) for k in reader if k != OBJECT_GRAPH_KEY)
    try:
        tree = nest_names(keys)
    except ValueError as e:
        raise InvalidArgumentError(f"cannot nest the keys: {e}", path=reader.prefix) from None
    return CheckpointTree(reader.prefix, "names", _with_tensors(tree, reader))


def tree_lines(tree: CheckpointTree) -> list[str]:
    """The tree drawn with box characters; tensors show dtype and shape (and, in an object
    graph, the storage key they live under)."""
    lines = [f"{tree.path} (by {tree.by})"]
    by_graph = tree.by == "object graph"

    def entries(node: Tree) -> list[tuple[int, tuple[str, Any]]]:
        # By names, a group is drawn as "name/", its own value (under "") as the leaf
        # "name" just before it: the lines read as the keys do.
        if by_graph:
            return list(enumerate(node.items()))
        out: list[tuple[str, Any]] = []
        for name, sub in node.items():
            if isinstance(sub, dict):
                if GROUP_VALUE in sub and len(sub) > 1:  # alone, it is the key "name/"
                    out.append((name, sub[GROUP_VALUE]))
                    sub = {k: v for k, v in sub.items() if k != GROUP_VALUE}
                out.append((name + "/", sub))
            else:
                out.append((name, sub))
        return list(enumerate(out))

    # An explicit stack: object graphs may be deep, and recursion would be bounded by Python's.
    top = entries(tree.tree)
    stack: list[tuple[Iterator[tuple[int, tuple[str, Any]]], int, str]] = [
        (iter(top), len(top), "")
    ]
    while stack:
        it, count, indent = stack[-1]
        step = next(it, None)
        if step is None:
            stack.pop()
            continue
        i, (name, sub) = step
        last = i == count - 1
        branch = "└── " if last else "├── "
        if isinstance(sub, dict):
            lines.append(f"{indent}{branch}{name}")
            children = entries(sub)
            child_indent = indent + ("    " if last else "│   ")
            stack.append((iter(children), len(children), child_indent))
        elif isinstance(sub, TensorInfo):
            where = f"  <- {sub.key}" if by_graph else ""
            lines.append(f"{indent}{branch}{name}  {sub.dtype}{shape_str(sub.shape)}{where}")
        else:
            lines.append(f"{indent}{branch}{name}  {sub}")
    return lines
