"""The `tfckpt` command: inspect, verify, compare and convert checkpoints from a shell.

Every subcommand is a thin layer over the public API and `_inspect` (which computes and
renders what is printed); this module only declares arguments, prints, and maps exceptions
to exit statuses (the `EXIT_*` constants, listed for users in `EPILOG`). Output meant for
programs (`--json`) goes to stdout alone; progress and diagnostics go to stderr.

Adding a subcommand:
  1. write ``_NAME_arguments(parser)``, which declares its arguments (`_path_argument`,
     `_json_argument` for the usual ones; ``-q/--quiet`` every command has already), and
     ``_NAME(args) -> int``, which runs it and returns an `EXIT_*` status. Raise the
     library's exceptions for failures: `main` turns them into statuses and messages;
  2. add one ``Command("NAME", "one-line help", _NAME_arguments, _NAME)`` line to `COMMANDS`.
A command whose code lives in another module registers the same way; import heavy modules
inside ``_NAME``, not at the top of this file (`tfckpt --help` must stay fast).
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TextIO

import numpy as np

from . import _inspect as ins
from ._api import CheckpointReader, load_checkpoint
from ._errors import (
    CheckpointError,
    CheckpointNotFoundError,
    TensorNotFoundError,
    VerificationError,
)
from ._version import __version__

__all__ = ["COMMANDS", "Command", "build_parser", "main"]

EXIT_OK: Final = 0
EXIT_CORRUPT: Final = 1  # the file's content is damaged, invalid, or not a checkpoint
EXIT_USAGE: Final = 2
EXIT_NOT_FOUND: Final = 3
EXIT_DIFFERENT: Final = 4  # `diff --exit-code` found differences
EXIT_INTERRUPTED: Final = 130  # Ctrl-C, as shells report SIGINT

EPILOG = f"""\
exit status:
  {EXIT_OK}  success
  {EXIT_CORRUPT}  the checkpoint is corrupt or invalid (or not a TensorFlow checkpoint at all)
  {EXIT_USAGE}  usage error (bad arguments, missing optional dependency)
  {EXIT_NOT_FOUND}  not found (no checkpoint at the path, or no tensor of that name)
  {EXIT_DIFFERENT}  diff --exit-code: the checkpoints differ

PATH may be a checkpoint prefix (dir/ckpt-5), its .index or .data-* file, a directory
holding a 'checkpoint' state file, a SavedModel directory, or a URL (s3://, gs://,
https://, any fsspec URL; needs the 'remote' extra).
"""


# -- output helpers ---------------------------------------------------------------------------


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


def _json(obj: Any, indent: int | None = 1) -> None:
    ins.write_json(obj, sys.stdout, indent)


def _lines(lines: list[str]) -> None:
    for line in lines:
        print(line)


def _note(message: str) -> None:
    print(message, file=sys.stderr)


# -- argument helpers -------------------------------------------------------------------------


def _path_argument(p: argparse.ArgumentParser, name: str = "path", metavar: str = "PATH") -> None:
    p.add_argument(name, metavar=metavar)


def _json_argument(p: argparse.ArgumentParser, help: str = "machine-readable output") -> None:
    p.add_argument("--json", action="store_true", help=help)


# -- ls ---------------------------------------------------------------------------------------


def _ls_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    p.add_argument(
        "patterns",
        metavar="GLOB",
        nargs="*",
        help="only names matching one of these shell patterns (quote them)",
    )
    _json_argument(p)
    p.add_argument("--bytes", action="store_true", help="sizes in bytes, not KiB/MiB")
    p.add_argument("--sort", choices=["name", "size"], default="name")
    p.add_argument(
        "--model-paths",
        action="store_true",
        help="show object-graph model paths instead of storage keys",
    )


def _ls_by_model_paths(r: CheckpointReader, args: argparse.Namespace) -> list[ins.TensorInfo]:
    """No key matched: model paths may (Keras 3 keeps kernels under
    ``optimizer/_trainable_variables/0``, known to users as ``.../dense/_kernel``)."""
    globs = " ".join(repr(p) for p in args.patterns)
    rows = []
    if not args.model_paths and r.object_graph is not None:
        rows = ins.list_tensors(r, args.patterns, model_paths=True, sort=args.sort)
    if rows:
        _note(f"note: no storage key matches {globs}; listing the model paths that do")
    elif not args.quiet:
        where = "storage key or model path" if r.object_graph is not None else "storage key"
        _note(f"note: no {where} matches {globs}")
    return rows


def _ls(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
        rows = ins.list_tensors(r, args.patterns, model_paths=args.model_paths, sort=args.sort)
        if args.patterns and not rows:
            rows = _ls_by_model_paths(r, args)
        total = sum(x.size for x in rows)
        if args.json:
            _json(
                {
                    "path": r.prefix,
                    "format": r.format,
                    "tensors": [x.to_json() for x in rows],
                    "total": {"count": len(rows), "size": total},
                }
            )
            return EXIT_OK
        _lines(ins.listing_lines(rows, exact_sizes=args.bytes))
        if not args.quiet:
            print(f"{len(rows)} tensors, {str(total) if args.bytes else ins.human_size(total)}")
    return EXIT_OK


# -- verify -----------------------------------------------------------------------------------


def _verify_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    _json_argument(p, "machine-readable result, also when damage is found")
    p.add_argument(
        "--fail-fast",
        action="store_true",
        help="stop at the first damaged tensor (default: check all, list every damaged one)",
    )


def _verify(args: argparse.Namespace) -> int:
    errors: list[CheckpointError] = []
    prefix, count = args.path, 0
    progress = _Progress("verifying", not args.quiet)
    try:
        with load_checkpoint(args.path) as r:
            prefix, count = r.prefix, len(r)
            try:
                r.verify(progress=progress, fail_fast=args.fail_fast)
            except VerificationError as e:
                errors = list(e.errors)
            except CheckpointError as e:
                if args.fail_fast and not args.json:
                    raise
                errors = [e]
    except CheckpointError as e:
        if not args.json:
            raise
        errors = [e]  # the checkpoint does not even open
    finally:
        progress.close()
    if args.json:
        _json(
            {
                "path": prefix,
                "ok": not errors,
                "tensors": count,
                "damaged": [
                    {"name": x.key, "file": x.path, "error": x.message, "kind": type(x).__name__}
                    for x in errors
                ],
            }
        )
    elif errors:
        _note(f"tfckpt: error: {len(errors)} of {count} tensors in {prefix} are damaged:")
        for err in errors:
            _note(f"  {err.key}: {err.message} (file {err.path})")
    elif not args.quiet:
        print(f"OK: {count} tensors in {prefix} verified (all checksums match)")
    return _status_for_errors(errors)


# -- dump -------------------------------------------------------------------------------------


def _dump_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    p.add_argument("name", metavar="NAME")
    _json_argument(p, "values as JSON")
    p.add_argument("--npy", metavar="OUT", help="write the tensor to a .npy file instead")
    p.add_argument(
        "--full",
        action="store_true",
        help=f"print every element; without it a tensor of more than {ins.DUMP_LIMIT} elements "
        f"is summarised (text: as NumPy prints it; JSON: its first {ins.DUMP_LIMIT} values, "
        'flattened, with "truncated": true)',
    )


def _dump(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
        key = ins.resolve_name(r, args.name)
        arr = r[key]
        if args.npy:
            out = arr
            if arr.dtype.kind not in "biufc":
                if arr.dtype.kind == "O":
                    _note("error: string tensors cannot be saved as .npy without pickle")
                    return EXIT_USAGE
                # ml_dtypes types have no .npy descriptor: widen losslessly.
                out = arr.astype(np.float32 if "float" in arr.dtype.name else np.int8)
                if not args.quiet:
                    _note(f"note: {r.dtype(key)} saved as {out.dtype}")
            from ._storage import create

            with create(args.npy) as f:  # atomic; a URL goes to its bucket
                np.save(f.file, np.asarray(out, order="C"), allow_pickle=False)
            if not args.quiet:
                _note(f"wrote {key} ({r.dtype(key)}{ins.shape_str(arr.shape)}) to {args.npy}")
            return EXIT_OK
        limit = None if args.full else ins.DUMP_LIMIT
        if args.json:
            _json(ins.tensor_json(key, r.dtype(key), arr, limit=limit), indent=None)
            return EXIT_OK
        threshold = sys.maxsize if limit is None else limit
        with np.printoptions(threshold=threshold, linewidth=100):
            print(f"{key}: {r.dtype(key)}{ins.shape_str(arr.shape)}")
            print(repr(arr) if arr.dtype.kind == "O" else str(arr))
    return EXIT_OK


# -- show -------------------------------------------------------------------------------------


def _show_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    p.add_argument("name", metavar="NAME")
    _json_argument(p)
    p.add_argument(
        "--preview",
        type=int,
        default=6,
        metavar="N",
        help="number of values to preview (default 6)",
    )


def _show(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
        key = ins.resolve_name(r, args.name)
        arr = r[key]
        info: dict[str, Any] = {
            "name": key,
            "dtype": r.dtype(key),
            "shape": list(arr.shape),
            "size": ins.tensor_size(r, key),
            "stats": ins.tensor_stats(arr),
        }
        graph = r.object_graph
        mp = ins.model_path(graph, key) if graph is not None else None
        if mp is not None:
            info["model_path"] = mp
        if args.json:
            info["preview"] = ins.to_json_value(arr.reshape(-1)[: args.preview])
            _json(info)
            return EXIT_OK
        print(f"name:   {key}")
        if mp is not None:
            print(f"path:   {mp}")
        print(f"dtype:  {info['dtype']}")
        shape = ins.shape_str(arr.shape)
        print(f"shape:  {shape}  ({arr.size} elements, {ins.human_size(info['size'])})")
        _lines(ins.stats_lines(info["stats"]))
        with np.printoptions(linewidth=100):
            print(f"values: {ins.preview(arr, args.preview)}")
    return EXIT_OK


# -- tree -------------------------------------------------------------------------------------


def _tree_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    p.add_argument("--all", action="store_true", help="also objects that hold no tensors")
    _json_argument(p)


def _tree(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
        tree = ins.checkpoint_tree(r, show_empty=args.all)
        if args.json:
            _json(tree.to_json())
        else:
            _lines(ins.tree_lines(tree))
    return EXIT_OK


# -- diff -------------------------------------------------------------------------------------


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "a", "A")
    _path_argument(p, "b", "B")
    p.add_argument(
        "names",
        metavar="NAME",
        nargs="*",
        help="compare only these tensors (keys or model paths, of A or of B)",
    )
    _json_argument(p)
    p.add_argument(
        "--atol",
        type=float,
        default=0.0,
        help="values within this max abs difference count as unchanged",
    )
    p.add_argument(
        "--exit-code",
        action="store_true",
        help=f"exit with status {EXIT_DIFFERENT} when the checkpoints differ (like git diff)",
    )


def _diff(args: argparse.Namespace) -> int:
    with load_checkpoint(args.a) as ra, load_checkpoint(args.b) as rb:
        progress = _Progress("comparing", not args.quiet)
        try:
            keys = [ins.resolve_name(ra, n, rb) for n in args.names] if args.names else None
            result = ins.diff_checkpoints(ra, rb, atol=args.atol, keys=keys, progress=progress)
        finally:
            progress.close()
    if args.json:
        _json(result.to_json())
    else:
        _lines(result.lines(summary=not args.quiet))
    return EXIT_DIFFERENT if (args.exit_code and result.differs) else EXIT_OK


# -- convert ----------------------------------------------------------------------------------


def _convert_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    p.add_argument(
        "--strict",
        action="store_true",
        help="fail on tensors the target cannot hold instead of skipping them",
    )
    p.add_argument(
        "--to",
        choices=["safetensors", "npz"],
        help="target format when DST has no telling extension",
    )
    p.add_argument(
        "--object-graph",
        action="store_true",
        help="file -> checkpoint: nest names at '/' and write a TF2 object graph "
        "(tf.train.Checkpoint restores it) instead of a name-based checkpoint",
    )
    p.add_argument(
        "--model-paths",
        action="store_true",
        help="checkpoint -> file: name tensors by TF2 model path (model/dense/kernel), "
        "not storage key (.../.ATTRIBUTES/VARIABLE_VALUE)",
    )
    _filter_arguments(p, checkpoint=False)


def _convert(args: argparse.Namespace) -> int:
    from . import _convert

    src, dst = args.src, args.dst
    filters = _filters(args)
    to_file = dst.endswith((".safetensors", ".npz")) or args.to is not None
    if not to_file and any(v not in (None, False) for v in filters.values()):
        _note(
            "tfckpt: error: --select/--exclude/--strip/--keep/--rename/--cast apply to "
            "checkpoint -> .safetensors/.npz conversions"
        )
        return EXIT_USAGE
    progress = _Progress("converting", not args.quiet)
    try:
        if dst.endswith(".safetensors") or args.to == "safetensors":
            write = _convert.to_safetensors
        elif dst.endswith(".npz") or args.to == "npz":
            write = _convert.to_npz
        elif src.endswith((".safetensors", ".npz")):
            read = _convert.from_safetensors if src.endswith(".safetensors") else _convert.from_npz
            progress.close()
            return _surgery(
                "converting",
                args,
                lambda progress: (
                    "wrote TensorFlow checkpoint "
                    + read(src, dst, object_graph=args.object_graph, progress=progress)
                ),
            )
        else:
            _note(
                "error: cannot tell the direction: DST must end in .safetensors or .npz "
                "(checkpoint -> file), or SRC must (file -> checkpoint prefix DST); "
                "or pass --to"
            )
            return EXIT_USAGE
    finally:
        progress.close()
    return _surgery(
        "converting",
        args,
        lambda progress: write(
            src,
            dst,
            strict=args.strict,
            model_paths=args.model_paths,
            progress=progress,
            **filters,
        ),
    )


# -- surgery: edit, strip, cast, select, rename, reshard, merge, average ---------------------

_SIZE_UNITS: Final = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "kib": 1 << 10,
    "m": 1000**2,
    "mb": 1000**2,
    "mib": 1 << 20,
    "g": 1000**3,
    "gb": 1000**3,
    "gib": 1 << 30,
}


def _size(text: str) -> int:
    """`1000000`, `100MB`, `1.5GiB` -> bytes (an argparse type)."""
    t = text.strip().lower().replace(" ", "")
    num = t.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = t[len(num) :]
    try:
        value = float(num) * _SIZE_UNITS[unit]
    except (KeyError, ValueError):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size (bytes, or with a unit: 500MB, 2GiB)"
        ) from None
    if not 0 < value < 2**63:
        raise argparse.ArgumentTypeError(f"{text!r}: a size must be positive")
    return int(value)


def _filter_arguments(p: argparse.ArgumentParser, *, checkpoint: bool = True) -> None:
    """The filters `edit` and its shortcuts share with `convert`."""
    g = p.add_argument_group("filters (applied in this order: select/exclude/strip, rename, cast)")
    g.add_argument(
        "--select",
        action="append",
        metavar="GLOB",
        help="keep only tensors whose key or model path matches (a path also selects "
        "everything below it); repeatable",
    )
    g.add_argument("--exclude", action="append", metavar="GLOB", help="leave these out")
    g.add_argument(
        "--strip",
        action="store_true",
        help="drop optimizer slots and state, save_counter, global_step and other "
        "bookkeeping (see docs/inference_prep.md)",
    )
    g.add_argument("--keep", action="append", metavar="GLOB", help="exempt these from --strip")
    g.add_argument(
        "--rename",
        action="append",
        nargs=2,
        metavar=("REGEX", "REPLACEMENT"),
        help="ordered rename rule (re.sub on the name without /.ATTRIBUTES/VARIABLE_VALUE, "
        "like to_torch's); repeatable",
    )
    g.add_argument(
        "--cast",
        action="append",
        metavar="[GLOB=]DTYPE",
        help="cast floating-point model tensors to bfloat16, float16 or float32 (only those "
        "matching GLOB); repeatable, first match wins",
    )
    if checkpoint:
        g.add_argument(
            "--name-based",
            action="store_true",
            help="write a flat TF1-style checkpoint named by model paths, no object graph",
        )


def _filters(args: argparse.Namespace) -> dict[str, Any]:
    cast: Any = None
    if args.cast:
        pairs = [tuple(c.rsplit("=", 1)) if "=" in c else ("*", c) for c in args.cast]
        cast = pairs[0][1] if len(pairs) == 1 and pairs[0][0] == "*" else pairs
    out: dict[str, Any] = {
        "select": args.select,
        "exclude": args.exclude,
        "strip": args.strip,
        "keep": args.keep,
        "rename": [tuple(r) for r in args.rename] if args.rename else None,
        "cast": cast,
    }
    if hasattr(args, "name_based"):
        out["name_based"] = args.name_based
    return out


def _report(report: Any, quiet: bool) -> None:
    for line in str(report).splitlines():
        if line.startswith("warning:"):
            _note(line)
        elif not quiet:
            print(line)


def _surgery(label: str, args: argparse.Namespace, run: Callable[[Any], Any]) -> int:
    """Run an edit with a progress line; caller mistakes the library reports as ValueError /
    TypeError are usage errors here (damaged files stay CheckpointError: `main` maps them)."""
    progress = _Progress(label, not args.quiet)
    try:
        report = run(progress)
    except CheckpointError:
        raise
    except (ValueError, TypeError, NotImplementedError) as e:
        progress.close()
        _note(f"tfckpt: error: {e}")
        return EXIT_USAGE
    finally:
        progress.close()
    _report(report, args.quiet)
    return EXIT_OK


def _edit_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    _filter_arguments(p)
    _shard_argument(p)


def _shard_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-shard-size",
        type=_size,
        metavar="SIZE",
        help="split the data into files of at most SIZE (500MB, 2GiB), as TF's "
        "MaxShardSizePolicy does; default: one data file",
    )


def _edit(args: argparse.Namespace, **preset: Any) -> int:
    from ._edit import edit

    kwargs = _filters(args)
    for k, v in preset.items():
        if v is not None:
            kwargs[k] = v
    return _surgery(
        "editing",
        args,
        lambda progress: edit(
            args.src,
            args.dst,
            max_shard_size=args.max_shard_size,
            progress=progress,
            **kwargs,
        ),
    )


def _strip(args: argparse.Namespace) -> int:
    return _edit(args, strip=True)


def _cast_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    p.add_argument("dtype", metavar="DTYPE", choices=["bfloat16", "float16", "float32"])
    p.add_argument(
        "only", metavar="GLOB", nargs="*", help="cast only these (default: every float tensor)"
    )
    _filter_arguments(p)
    _shard_argument(p)


def _cast(args: argparse.Namespace) -> int:
    spec: Any = [(g, args.dtype) for g in args.only] if args.only else args.dtype
    return _edit(args, cast=spec)


def _select_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    p.add_argument("globs", metavar="GLOB", nargs="+", help="keys or model paths to keep")
    _filter_arguments(p)
    _shard_argument(p)


def _select(args: argparse.Namespace) -> int:
    return _edit(args, select=[*args.globs, *(args.select or [])])


def _rename_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    p.add_argument(
        "rules",
        metavar="REGEX REPLACEMENT",
        nargs="+",
        help="pairs of rules, applied in order (re.sub; \\1 for groups)",
    )
    _filter_arguments(p)
    _shard_argument(p)


def _rename(args: argparse.Namespace) -> int:
    if len(args.rules) % 2:
        _note("tfckpt: error: rename: rules come in pairs: REGEX REPLACEMENT")
        return EXIT_USAGE
    pairs = list(zip(args.rules[::2], args.rules[1::2]))
    return _edit(args, rename=[*pairs, *(tuple(r) for r in args.rename or [])])


def _reshard_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "src", "SRC")
    _path_argument(p, "dst", "DST")
    _shard_argument(p)


def _reshard(args: argparse.Namespace) -> int:
    from ._edit import reshard

    return _surgery(
        "resharding",
        args,
        lambda progress: reshard(args.src, args.dst, args.max_shard_size, progress=progress),
    )


def _merge_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", metavar="SRC", nargs="+")
    p.add_argument("-o", "--output", required=True, metavar="DST", help="output prefix")
    p.add_argument(
        "--on-conflict",
        choices=["error", "first", "last"],
        default="error",
        help="a name in several sources: take it from the first or the last that has it, "
        "or refuse (default)",
    )
    p.add_argument(
        "--name-based",
        action="store_true",
        help="write a flat checkpoint named by model paths (when no graph holds the union)",
    )
    _shard_argument(p)


def _merge(args: argparse.Namespace) -> int:
    from ._edit import merge

    return _surgery(
        "merging",
        args,
        lambda progress: merge(
            args.sources,
            args.output,
            on_conflict=args.on_conflict,
            name_based=args.name_based,
            max_shard_size=args.max_shard_size,
            progress=progress,
        ),
    )


def _weights(text: str) -> list[float]:
    try:
        return [float(w) for w in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated numbers") from None


def _average_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", metavar="SRC", nargs="+")
    p.add_argument("-o", "--output", required=True, metavar="DST", help="output prefix")
    p.add_argument("--weights", type=_weights, metavar="W,W,...", help="one weight per SRC")
    _shard_argument(p)


def _average(args: argparse.Namespace) -> int:
    from ._edit import average

    return _surgery(
        "averaging",
        args,
        lambda progress: average(
            args.sources,
            args.output,
            weights=args.weights,
            max_shard_size=args.max_shard_size,
            progress=progress,
        ),
    )


def _port_arguments(p: argparse.ArgumentParser) -> None:
    from ._port._command import add_arguments

    add_arguments(p)


def _port(args: argparse.Namespace) -> int:
    from ._port._command import run

    return _surgery("writing", args, lambda progress: run(args, progress))


# -- saved-model ------------------------------------------------------------------------------


def _saved_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", metavar="DIR", help="a SavedModel directory (or its saved_model.pb)")
    p.add_argument(
        "--tag-set",
        metavar="TAGS",
        help="only the MetaGraph with these tags (comma-separated, e.g. serve or train,gpu)",
    )
    p.add_argument(
        "--signature-def",
        metavar="KEY",
        help="only this signature's inputs and outputs, as saved_model_cli show --tag_set TAGS "
        "--signature_def KEY prints them (TAGS: serve unless --tag-set)",
    )
    _json_argument(p)


def _saved_model(args: argparse.Namespace) -> int:
    from ._saved_model import saved_model_info

    info = saved_model_info(args.path)
    tags = args.tag_set if args.tag_set or not args.signature_def else "serve"
    try:
        mg = info.meta_graph(tags) if tags else None
    except KeyError as e:
        _note(f"tfckpt: not found: {e.args[0]}")
        return EXIT_NOT_FOUND
    if mg is not None and args.signature_def:
        sig = mg.signatures.get(args.signature_def)
        if sig is None:
            close = difflib.get_close_matches(args.signature_def, list(mg.signatures), n=3)
            hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
            have = ", ".join(mg.signatures)
            _note(f"tfckpt: not found: no signature {args.signature_def!r} (it has {have}){hint}")
            return EXIT_NOT_FOUND
        if args.json:
            _json(sig.to_json())
        else:
            _lines(sig.lines())
        return EXIT_OK
    if args.json:
        _json(info.to_json() if mg is None else mg.to_json())
        return EXIT_OK
    _lines(info.lines(tags))
    total = sum(v.size for v in info.variables)
    print(f"\nVariables: {len(info.variables)} tensors, {ins.human_size(total)}")
    _lines(["  " + line for line in ins.listing_lines(info.variables)])
    return EXIT_OK


# -- the command table and the entry point ----------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A subcommand: its name, one-line help, a function declaring its arguments on its
    parser, and the function running it (parsed arguments -> exit status)."""

    name: str
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS: tuple[Command, ...] = (
    Command("ls", "list tensors: name, dtype, shape, size", _ls_arguments, _ls),
    Command("verify", "check every checksum of a checkpoint", _verify_arguments, _verify),
    Command("dump", "print one tensor's values", _dump_arguments, _dump),
    Command("show", "statistics and a preview of one tensor", _show_arguments, _show),
    Command(
        "tree", "the object graph (model paths), or names nested by '/'", _tree_arguments, _tree
    ),
    Command(
        "diff",
        "compare two checkpoints: added, removed and changed tensors",
        _diff_arguments,
        _diff,
    ),
    Command(
        "convert",
        "checkpoint -> .safetensors/.npz, or .safetensors/.npz -> checkpoint",
        _convert_arguments,
        _convert,
    ),
    Command(
        "edit",
        "checkpoint -> checkpoint with filters: select, exclude, strip, rename, cast, shards",
        _edit_arguments,
        _edit,
    ),
    Command(
        "strip",
        "drop optimizer state and counters (the object graph is kept consistent)",
        _edit_arguments,
        _strip,
    ),
    Command(
        "cast", "cast floating-point tensors (bfloat16/float16/float32)", _cast_arguments, _cast
    ),
    Command(
        "select", "keep only tensors matching globs or model paths", _select_arguments, _select
    ),
    Command("rename", "rename tensors by ordered regex rules", _rename_arguments, _rename),
    Command(
        "reshard",
        "split into shards of a maximum size (as TF's MaxShardSizePolicy), or join into one",
        _reshard_arguments,
        _reshard,
    ),
    Command("merge", "merge checkpoints into one, with a conflict rule", _merge_arguments, _merge),
    Command("average", "the mean of N checkpoints of one model", _average_arguments, _average),
    Command(
        "saved-model",
        "a SavedModel's tag-sets, signatures (inputs, outputs), ops and variables, as "
        "saved_model_cli show --all prints them",
        _saved_model_arguments,
        _saved_model,
    ),
    Command(
        "port",
        "an original TF release (BERT, GPT-2, T5, ...) -> transformers .safetensors",
        _port_arguments,
        _port,
    ),
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


class _NotIntermixed(Exception):
    pass


class _CommandParser(_Parser):
    """A subcommand's parser: options may come between positional arguments
    (``tfckpt ls PATH --model-paths '*kernel*'``), which argparse's default parsing refuses
    once a ``nargs="*"`` positional has matched nothing. Whatever does not parse that way is
    parsed (and reported) the usual way."""

    _intermixing = False

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        if self._intermixing:  # re-entered from parse_known_intermixed_args (Python < 3.13)
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return self.parse_known_intermixed_args(args, namespace)
        except (TypeError, _NotIntermixed):  # REMAINDER arguments, or an error to report
            pass
        finally:
            self._intermixing = False
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        if self._intermixing:
            raise _NotIntermixed
        super().error(message)


def build_parser(commands: tuple[Command, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The `tfckpt` parser: global options, then one subparser per entry of `commands`."""
    p = _Parser(
        prog="tfckpt",
        description="Inspect, verify, compare, convert and edit TensorFlow checkpoints without "
        "TensorFlow.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"tfckpt-lite {__version__}")
    common = _CommandParser(add_help=False)
    common.add_argument(
        "-q", "--quiet", action="store_true", help="no progress line, no summary lines"
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_CommandParser)
    sub.required = True
    for command in commands:
        sp = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            parents=[common],
            epilog=EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.arguments(sp)
        sp.set_defaults(run=command.run)
    return p


def _status_for(e: Exception) -> int:
    """The exit status for an exception a command let through."""
    if isinstance(e, (TensorNotFoundError, CheckpointNotFoundError)):
        return EXIT_NOT_FOUND
    if isinstance(e, CheckpointError):
        return EXIT_CORRUPT
    if isinstance(e, FileNotFoundError):
        return EXIT_NOT_FOUND
    return EXIT_USAGE  # a missing optional dependency; a directory or unreadable file given


def _status_for_errors(errors: list[CheckpointError]) -> int:
    """OK for none; not found when every error is a missing file or tensor; else corrupt."""
    if not errors:
        return EXIT_OK
    statuses = {_status_for(e) for e in errors}
    return statuses.pop() if len(statuses) == 1 else EXIT_CORRUPT


def main(argv: list[str] | None = None) -> int:
    """Run `tfckpt` with `argv` (default: sys.argv[1:]); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else EXIT_USAGE
    try:
        code: int = args.run(args)
        return code
    except (
        CheckpointError,
        FileNotFoundError,
        ImportError,
        IsADirectoryError,
        PermissionError,
    ) as e:
        status = _status_for(e)
        _note(f"tfckpt: {'not found' if status == EXIT_NOT_FOUND else 'error'}: {e}")
        return status
    except BrokenPipeError:
        # `tfckpt ls big | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
