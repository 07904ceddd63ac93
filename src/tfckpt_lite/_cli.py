"""The `tfckpt` command: inspect, verify, compare and convert checkpoints from a shell.

Every subcommand is a thin layer over the public API; this module only parses arguments,
formats output and maps exceptions to exit codes (see `EPILOG`). Output meant for programs
(`--json`) goes to stdout alone; progress and diagnostics go to stderr.
"""

from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TextIO

import numpy as np

from ._api import CheckpointReader, load_checkpoint
from ._errors import (
    CheckpointError,
    CheckpointNotFoundError,
    TensorNotFoundError,
)

__all__ = ["main"]

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3

EPILOG = """\
exit status:
  0  success
  1  the checkpoint is corrupt or invalid (or not a TensorFlow checkpoint at all)
  2  usage error (bad arguments, missing optional dependency)
  3  not found (no checkpoint at the path, or no tensor of that name)

PATH may be a checkpoint prefix (dir/ckpt-5), its .index or .data-* file, a directory
holding a 'checkpoint' state file, a SavedModel directory, or a URL (s3://, gs://,
https://, any fsspec URL; needs the 'remote' extra).
"""

_CHUNK = 1 << 20  # elements per chunk when computing statistics


# -- small utilities --------------------------------------------------------------------------


class _Progress:
    """A one-line progress indicator on stderr, only when stderr is a terminal."""

    def __init__(self, label: str, enabled: bool, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled and self.stream.isatty()
        self.label = label
        self._last = 0.0
        self._shown = False

    def __call__(self, done: int, total: int, key: str) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and done != total:
            return
        self._last = now
        frac = f"{done}/{total}" if total else str(done)
        width = 24
        bar = ""
        if total:
            fill = int(width * done / total)
            bar = "[" + "#" * fill + "." * (width - fill) + "] "
        name = key if len(key) <= 40 else "..." + key[-37:]
        self.stream.write(f"\r\x1b[K{self.label} {bar}{frac} {name}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _human(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _shape_str(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(d) for d in shape) + "]"


def _open(path: str) -> CheckpointReader:
    return load_checkpoint(path)


def _nbytes(reader: CheckpointReader, key: str) -> int:
    """Bytes the tensor occupies in its data file(s)."""
    dt = reader.dtype_info(key)
    if dt.is_fixed_size:
        return int(np.prod(reader.shape(key), dtype=np.int64)) * dt.itemsize
    entry = getattr(reader._backend, "entry", None)
    if entry is not None:
        try:
            return int(entry(key).size)
        except (CheckpointError, AttributeError):
            return 0
    return 0


def _object_graph(reader: Any) -> Any:
    """The reader's object graph, or None (name-based, or graph support not available)."""
    try:
        return reader.object_graph
    except ImportError:
        return None


def _model_path(graph: Any, key: str) -> str | None:
    if graph is None or not hasattr(graph, "paths"):
        return None
    from ._convert import model_path

    return model_path(graph, key)


def _resolve_name(reader: Any, name: str) -> str:
    """The storage key for `name`: a key, a key with ``:0``, or a model path."""
    if name in reader:
        return name
    if name.endswith(":0") and name[:-2] in reader:
        return name[:-2]
    graph = _object_graph(reader)
    if graph is not None:
        for key in reader:
            if _model_path(graph, key) == name:
                return str(key)
        for suffix in ("/.ATTRIBUTES/VARIABLE_VALUE",):
            if name + suffix in reader:
                return name + suffix
    close = difflib.get_close_matches(name, list(reader), n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise TensorNotFoundError(f"no tensor named {name!r}{hint}", path=reader.prefix, key=name)


def _jsonable(arr: np.ndarray[Any, Any]) -> Any:
    """Nested lists for JSON: floats kept exact, NaN/inf as strings, bytes as text."""
    if arr.dtype.kind == "O":
        flat = [_bytes_json(v) for v in arr.reshape(-1).tolist()]
        return np.array(flat, dtype=object).reshape(arr.shape).tolist() if arr.ndim else flat[0]
    if arr.dtype.kind == "c":
        pairs = np.stack([arr.real, arr.imag], axis=-1)
        return _jsonable(pairs)
    if arr.dtype.kind not in "biuf":  # ml_dtypes: bfloat16, float8, int4 ...
        arr = arr.astype(np.float64 if "float" in arr.dtype.name else np.int64)
    if arr.dtype.kind == "f":
        obj = arr.astype(np.float64).tolist()
        return _fix_floats(obj)
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


def _emit_json(obj: Any, indent: int | None = 1) -> None:
    json.dump(obj, sys.stdout, indent=indent, ensure_ascii=False)
    sys.stdout.write("\n")


# -- statistics -------------------------------------------------------------------------------


def _chunks(arr: np.ndarray[Any, Any]) -> Iterator[np.ndarray[Any, Any]]:
    flat = arr.reshape(-1)
    for i in range(0, flat.size, _CHUNK):
        yield flat[i : i + _CHUNK]


def _stats(arr: np.ndarray[Any, Any]) -> dict[str, Any]:
    """min/max/mean/std/nan count computed in float64 chunk by chunk (bounded extra memory)."""
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
        nan_mask = np.isnan(c)
        nan += int(nan_mask.sum())
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


def _preview(arr: np.ndarray[Any, Any], n: int = 6) -> str:
    flat = arr.reshape(-1)[:n]
    body = np.array2string(flat, separator=", ", threshold=n + 1, max_line_width=10**6)
    return body[:-1] + (", ...]" if arr.size > n else "]")


# -- subcommands ------------------------------------------------------------------------------


def _cmd_ls(args: argparse.Namespace) -> int:
    with _open(args.path) as r:
        graph = _object_graph(r) if args.model_paths else None
        rows: list[dict[str, Any]] = []
        for key in r:
            shown = (_model_path(graph, key) or key) if graph is not None else key
            if args.patterns and not any(
                fnmatch.fnmatchcase(shown, p) or fnmatch.fnmatchcase(key, p) for p in args.patterns
            ):
                continue
            rows.append(
                {
                    "name": shown,
                    "key": key,
                    "dtype": r.dtype(key),
                    "shape": list(r.shape(key)),
                    "size": _nbytes(r, key),
                }
            )
        if graph is not None:
            rows.sort(key=lambda x: x["name"])
        if args.sort == "size":
            rows.sort(key=lambda x: -x["size"])
        total = sum(x["size"] for x in rows)
        if args.json:
            _emit_json(
                {
                    "path": r.prefix,
                    "format": r.format,
                    "tensors": rows,
                    "total": {"count": len(rows), "size": total},
                }
            )
            return EXIT_OK
        if rows:
            w_name = max(len(x["name"]) for x in rows)
            w_dtype = max(len(x["dtype"]) for x in rows)
            w_shape = max(len(_shape_str(x["shape"])) for x in rows)
            for x in rows:
                size = str(x["size"]) if args.bytes else _human(x["size"])
                print(
                    f"{x['name']:<{w_name}}  {x['dtype']:<{w_dtype}}  "
                    f"{_shape_str(x['shape']):<{w_shape}}  {size:>10}"
                )
        if not args.quiet:
            size = str(total) if args.bytes else _human(total)
            print(f"{len(rows)} tensors, {size}")
    return EXIT_OK


def _cmd_verify(args: argparse.Namespace) -> int:
    with _open(args.path) as r:
        backend: Any = r._backend
        keys = list(r)
        progress = _Progress("verifying", not args.quiet)
        try:
            if r.format == "v2" and hasattr(backend, "read_variant_protos"):
                for i, key in enumerate(keys):
                    dt = r.dtype(key)
                    if dt == "variant" and not backend.entry(key).slices:
                        backend.read_variant_protos(key)
                    elif dt != "resource":
                        r[key]
                    progress(i + 1, len(keys), key)
                count = len(keys)
            else:
                count = r.verify()
        finally:
            progress.close()
        if args.json:
            _emit_json({"path": r.prefix, "ok": True, "tensors": count})
        elif not args.quiet:
            print(f"OK: {count} tensors in {r.prefix} verified (all checksums match)")
    return EXIT_OK


def _cmd_dump(args: argparse.Namespace) -> int:
    with _open(args.path) as r:
        key = _resolve_name(r, args.name)
        arr = r[key]
        if args.npy:
            out = arr
            if arr.dtype.kind not in "biufc":
                if arr.dtype.kind == "O":
                    print(
                        "error: string tensors cannot be saved as .npy without pickle",
                        file=sys.stderr,
                    )
                    return EXIT_USAGE
                # ml_dtypes types have no .npy descriptor: widen losslessly.
                out = arr.astype(np.float32 if "float" in arr.dtype.name else np.int8)
                if not args.quiet:
                    print(f"note: {r.dtype(key)} saved as {out.dtype}", file=sys.stderr)
            np.save(args.npy, np.asarray(out, order="C"), allow_pickle=False)
            if not args.quiet:
                print(
                    f"wrote {key} ({r.dtype(key)}{_shape_str(arr.shape)}) to {args.npy}",
                    file=sys.stderr,
                )
            return EXIT_OK
        if args.json:
            _emit_json(
                {
                    "name": key,
                    "dtype": r.dtype(key),
                    "shape": list(arr.shape),
                    "values": _jsonable(arr),
                },
                indent=None,
            )
            return EXIT_OK
        threshold = sys.maxsize if args.full else 1000
        with np.printoptions(threshold=threshold, linewidth=100):
            print(f"{key}: {r.dtype(key)}{_shape_str(arr.shape)}")
            print(repr(arr) if arr.dtype.kind == "O" else str(arr))
    return EXIT_OK


def _cmd_show(args: argparse.Namespace) -> int:
    with _open(args.path) as r:
        key = _resolve_name(r, args.name)
        arr = r[key]
        info: dict[str, Any] = {
            "name": key,
            "dtype": r.dtype(key),
            "shape": list(arr.shape),
            "size": _nbytes(r, key),
            "stats": _stats(arr),
        }
        graph = _object_graph(r)
        mp = _model_path(graph, key)
        if mp is not None:
            info["model_path"] = mp
        if args.json:
            info["preview"] = _jsonable(arr.reshape(-1)[: args.preview])
            _emit_json(info)
            return EXIT_OK
        print(f"name:   {key}")
        if mp is not None:
            print(f"path:   {mp}")
        print(f"dtype:  {info['dtype']}")
        print(f"shape:  {_shape_str(arr.shape)}  ({arr.size} elements, {_human(info['size'])})")
        for k, v in info["stats"].items():
            if k == "count":
                continue
            print(f"{k + ':':<7} {v:.6g}" if isinstance(v, float) else f"{k + ':':<7} {v}")
        with np.printoptions(linewidth=100):
            print(f"values: {_preview(arr, args.preview)}")
    return EXIT_OK


def _attr_key(attr: Any) -> str:
    return attr if isinstance(attr, str) else str(getattr(attr, "checkpoint_key", attr))


def _graph_tree(graph: Any, show_empty: bool = False) -> dict[str, Any] | None:
    """Nested dicts following the object graph: child name -> subtree; a variable is a leaf
    ``name -> storage key``; its optimizer slots are leaves ``name (slot s)``; other
    attributes ``name/.ATTRIBUTES/attr``. A node reached again (graphs share nodes and may
    have cycles) is shown once, then as ``(same object as PATH)``."""
    root = getattr(graph, "root", None)
    if root is None:
        return None
    # original variable node id -> [(slot name, slot node)], from the optimizers' records
    slots: dict[int, list[tuple[str, Any]]] = {}
    nodes = list(graph) if hasattr(graph, "__iter__") else []
    for node in nodes:
        for sv in getattr(node, "slot_variables", ()) or ():
            slots.setdefault(sv.original_variable, []).append(
                (sv.slot_name, nodes[sv.slot_variable])
            )
    seen: dict[int, str] = {}

    def leaves(name: str, node: Any, out: dict[str, Any]) -> None:
        attrs = dict(getattr(node, "attributes", {}) or {})
        value = attrs.pop("VARIABLE_VALUE", None)
        if value is not None:
            out[name] = _attr_key(value)
        for attr, key in attrs.items():
            out[f"{name}/.ATTRIBUTES/{attr}"] = _attr_key(key)
        for slot_name, slot_node in slots.get(getattr(node, "id", -1), []):
            slot_attrs = getattr(slot_node, "attributes", {}) or {}
            for key in slot_attrs.values():
                out[f"{name} (slot {slot_name})"] = _attr_key(key)

    def walk(node: Any, path: str) -> dict[str, Any]:
        seen[id(node)] = path
        out: dict[str, Any] = {}
        for name, child in (getattr(node, "children", {}) or {}).items():
            name = str(name)
            where = f"{path}/{name}" if path else name
            if id(child) in seen:
                out[name] = f"(same object as {seen[id(child)] or 'the root'})"
                continue
            sub = walk(child, where)
            if sub:  # an object with children; its own tensors (rare) are listed as "."
                leaves(".", child, sub)
                out[name] = sub
                continue
            before = len(out)
            leaves(name, child, out)
            if len(out) == before and show_empty:
                out[name] = "(no tensors)"
        return out

    return walk(root, "")


def _name_tree(keys: Sequence[str]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for key in keys:
        node = tree
        parts = key.split("/")
        for part in parts[:-1]:
            nxt = node.setdefault(part + "/", {})
            if not isinstance(nxt, dict):  # pragma: no cover - "a" and "a/" never collide
                break
            node = nxt
        node[parts[-1]] = key
    return tree


def _cmd_tree(args: argparse.Namespace) -> int:
    with _open(args.path) as r:
        graph = _object_graph(r)
        tree = _graph_tree(graph, args.all) if graph is not None else None
        kind = "object graph" if tree is not None else "names"
        if tree is None:
            tree = _name_tree([k for k in r if k != "_CHECKPOINTABLE_OBJECT_GRAPH"])
        if args.json:
            _emit_json({"path": r.prefix, "by": kind, "tree": tree})
            return EXIT_OK
        print(f"{r.prefix} (by {kind})")

        def show(node: dict[str, Any], indent: str) -> None:
            items = list(node.items())
            for i, (name, sub) in enumerate(items):
                last = i == len(items) - 1
                branch = "└── " if last else "├── "
                if isinstance(sub, dict):
                    print(f"{indent}{branch}{name}")
                    show(sub, indent + ("    " if last else "│   "))
                elif isinstance(sub, str) and sub in r:
                    desc = f"{r.dtype(sub)}{_shape_str(r.shape(sub))}"
                    where = f"  <- {sub}" if kind == "object graph" else ""
                    print(f"{indent}{branch}{name}  {desc}{where}")
                else:
                    print(f"{indent}{branch}{name}  {sub}")

        show(tree, "")
    return EXIT_OK


def _max_abs_diff(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> float | None:
    """Largest |a - b| (NaN where exactly one side is NaN); None for non-numeric equal-check."""
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
            same_inf = np.isinf(fa) & (fa == fb)
            d[same_inf] = 0.0
        d[na & nb] = 0.0
        if np.any(na ^ nb):
            return math.nan
        if d.size:
            worst = max(worst, float(d.max()))
    return worst


def _cmd_diff(args: argparse.Namespace) -> int:
    with _open(args.a) as ra, _open(args.b) as rb:
        ka, kb = set(ra), set(rb)
        added = sorted(kb - ka)
        removed = sorted(ka - kb)
        changed: list[dict[str, Any]] = []
        same = 0
        common = sorted(ka & kb)
        progress = _Progress("comparing", not args.quiet)
        try:
            for i, key in enumerate(common):
                progress(i + 1, len(common), key)
                da, db = ra.dtype(key), rb.dtype(key)
                sa, sb = ra.shape(key), rb.shape(key)
                rec: dict[str, Any] = {"name": key}
                if da != db:
                    rec["dtype"] = [da, db]
                if sa != sb:
                    rec["shape"] = [list(sa), list(sb)]
                if len(rec) > 1:
                    changed.append(rec)
                    continue
                if da in ("variant", "resource"):
                    same += 1
                    continue
                va, vb = ra[key], rb[key]
                mad = _max_abs_diff(va, vb)
                if mad is None:
                    if not np.array_equal(va, vb):
                        rec["values"] = "differ"
                        changed.append(rec)
                    else:
                        same += 1
                elif math.isnan(mad) or mad > args.atol:
                    rec["max_abs_diff"] = "nan" if math.isnan(mad) else mad
                    changed.append(rec)
                else:
                    same += 1
        finally:
            progress.close()
        if args.json:
            _emit_json(
                {
                    "a": ra.prefix,
                    "b": rb.prefix,
                    "added": [
                        {"name": k, "dtype": rb.dtype(k), "shape": list(rb.shape(k))} for k in added
                    ],
                    "removed": [
                        {"name": k, "dtype": ra.dtype(k), "shape": list(ra.shape(k))}
                        for k in removed
                    ],
                    "changed": changed,
                    "unchanged": same,
                }
            )
        else:
            for k in removed:
                print(f"- {k}  {ra.dtype(k)}{_shape_str(ra.shape(k))}")
            for k in added:
                print(f"+ {k}  {rb.dtype(k)}{_shape_str(rb.shape(k))}")
            for rec in changed:
                parts = []
                if "dtype" in rec:
                    parts.append(f"dtype {rec['dtype'][0]} -> {rec['dtype'][1]}")
                if "shape" in rec:
                    parts.append(
                        f"shape {_shape_str(rec['shape'][0])} -> {_shape_str(rec['shape'][1])}"
                    )
                if "max_abs_diff" in rec:
                    v = rec["max_abs_diff"]
                    parts.append(f"max abs diff {v if isinstance(v, str) else format(v, '.6g')}")
                if "values" in rec:
                    parts.append("values differ")
                print(f"~ {rec['name']}  {', '.join(parts)}")
            if not args.quiet:
                print(
                    f"{len(added)} added, {len(removed)} removed, {len(changed)} changed, "
                    f"{same} unchanged"
                )
        differs = bool(added or removed or changed)
    return 4 if (args.exit_code and differs) else EXIT_OK


def _cmd_convert(args: argparse.Namespace) -> int:
    from . import _convert

    src, dst = args.src, args.dst
    progress = _Progress("converting", not args.quiet)
    try:
        if dst.endswith(".safetensors") or args.to == "safetensors":
            report = _convert.to_safetensors(
                src, dst, strict=args.strict, model_paths=args.model_paths, progress=progress
            )
        elif dst.endswith(".npz") or args.to == "npz":
            report = _convert.to_npz(
                src, dst, strict=args.strict, model_paths=args.model_paths, progress=progress
            )
        elif src.endswith(".safetensors"):
            prefix = _convert.from_safetensors(
                src, dst, object_graph=args.object_graph, progress=progress
            )
            progress.close()
            if not args.quiet:
                print(f"wrote TensorFlow checkpoint {prefix}")
            return EXIT_OK
        elif src.endswith(".npz"):
            prefix = _convert.from_npz(src, dst, object_graph=args.object_graph, progress=progress)
            progress.close()
            if not args.quiet:
                print(f"wrote TensorFlow checkpoint {prefix}")
            return EXIT_OK
        else:
            print(
                "error: cannot tell the direction: DST must end in .safetensors or .npz "
                "(checkpoint -> file), or SRC must (file -> checkpoint prefix DST); "
                "or pass --to",
                file=sys.stderr,
            )
            return EXIT_USAGE
    finally:
        progress.close()
    if not args.quiet:
        print(str(report))
    return EXIT_OK


def _cmd_port(args: argparse.Namespace) -> int:
    from ._port._command import run

    progress = _Progress("writing", not args.quiet)
    try:
        return run(args, progress)
    except CheckpointError:
        raise
    except (ValueError, TypeError) as e:  # the caller's arguments: --arch, --config, --class
        progress.close()
        print(f"tfckpt: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        progress.close()


# -- entry point ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    p = _Parser(
        prog="tfckpt",
        description="Inspect, verify, compare and convert TensorFlow checkpoints without "
        "TensorFlow.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tfckpt-lite {__version__}")
    common = _Parser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line, no summary lines"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def cmd(name: str, help: str, fn: Callable[[argparse.Namespace], int]) -> Any:
        sp = sub.add_parser(
            name,
            help=help,
            description=help,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sp.set_defaults(fn=fn)
        return sp

    s = cmd("ls", "list tensors: name, dtype, shape, size", _cmd_ls)
    s.add_argument("path", metavar="PATH")
    s.add_argument(
        "patterns",
        metavar="GLOB",
        nargs="*",
        help="only names matching one of these shell patterns (quote them)",
    )
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.add_argument("--bytes", action="store_true", help="sizes in bytes, not KiB/MiB")
    s.add_argument("--sort", choices=["name", "size"], default="name")
    s.add_argument(
        "--model-paths",
        action="store_true",
        help="show object-graph model paths instead of storage keys",
    )

    s = cmd("verify", "check every checksum of a checkpoint", _cmd_verify)
    s.add_argument("path", metavar="PATH")
    s.add_argument("--json", action="store_true")

    s = cmd("dump", "print one tensor's values", _cmd_dump)
    s.add_argument("path", metavar="PATH")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--json", action="store_true", help="values as JSON")
    s.add_argument("--npy", metavar="OUT", help="write the tensor to a .npy file instead")
    s.add_argument("--full", action="store_true", help="print every element")

    s = cmd("show", "statistics and a preview of one tensor", _cmd_show)
    s.add_argument("path", metavar="PATH")
    s.add_argument("name", metavar="NAME")
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--preview",
        type=int,
        default=6,
        metavar="N",
        help="number of values to preview (default 6)",
    )

    s = cmd("tree", "the object graph (model paths), or names nested by '/'", _cmd_tree)
    s.add_argument("path", metavar="PATH")
    s.add_argument("--all", action="store_true", help="also objects that hold no tensors")
    s.add_argument("--json", action="store_true")

    s = cmd("diff", "compare two checkpoints: added, removed and changed tensors", _cmd_diff)
    s.add_argument("a", metavar="A")
    s.add_argument("b", metavar="B")
    s.add_argument("--json", action="store_true")
    s.add_argument(
        "--atol",
        type=float,
        default=0.0,
        help="values within this max abs difference count as unchanged",
    )
    s.add_argument(
        "--exit-code", action="store_true", help="exit with status 4 when the checkpoints differ"
    )

    s = cmd(
        "convert",
        "checkpoint -> .safetensors/.npz, or .safetensors/.npz -> checkpoint",
        _cmd_convert,
    )
    s.add_argument("src", metavar="SRC")
    s.add_argument("dst", metavar="DST")
    s.add_argument(
        "--strict",
        action="store_true",
        help="fail on tensors the target cannot hold instead of skipping them",
    )
    s.add_argument(
        "--to",
        choices=["safetensors", "npz"],
        help="target format when DST has no telling extension",
    )
    s.add_argument(
        "--object-graph",
        action="store_true",
        help="file -> checkpoint: nest names at '/' and write a TF2 object graph "
        "(tf.train.Checkpoint restores it) instead of a name-based checkpoint",
    )
    s.add_argument(
        "--model-paths",
        action="store_true",
        help="checkpoint -> file: name tensors by TF2 model path (model/dense/kernel), "
        "not storage key (.../.ATTRIBUTES/VARIABLE_VALUE)",
    )
    from ._port import _command as port

    s = cmd("port", port.HELP, _cmd_port)
    port.add_arguments(s)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run `tfckpt` with `argv` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        code: int = args.fn(args)
        return code
    except (TensorNotFoundError, CheckpointNotFoundError) as e:
        print(f"tfckpt: not found: {e}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except CheckpointError as e:
        print(f"tfckpt: error: {e}", file=sys.stderr)
        return EXIT_INVALID
    except FileNotFoundError as e:
        print(f"tfckpt: not found: {e}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except ImportError as e:
        print(f"tfckpt: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except (IsADirectoryError, PermissionError) as e:
        print(f"tfckpt: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        # `tfckpt ls big | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
