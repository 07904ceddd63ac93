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
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, NoReturn, TextIO

import numpy as np

from . import _inspect as ins
from ._api import load_checkpoint
from ._errors import CheckpointError, CheckpointNotFoundError, TensorNotFoundError

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


def _ls(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
        rows = ins.list_tensors(r, args.patterns, model_paths=args.model_paths, sort=args.sort)
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
    _json_argument(p)


def _verify(args: argparse.Namespace) -> int:
    with load_checkpoint(args.path) as r:
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
            _json({"path": r.prefix, "ok": True, "tensors": count})
        elif not args.quiet:
            print(f"OK: {count} tensors in {r.prefix} verified (all checksums match)")
    return EXIT_OK


# -- dump -------------------------------------------------------------------------------------


def _dump_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p)
    p.add_argument("name", metavar="NAME")
    _json_argument(p, "values as JSON")
    p.add_argument("--npy", metavar="OUT", help="write the tensor to a .npy file instead")
    p.add_argument("--full", action="store_true", help="print every element")


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
            np.save(args.npy, np.asarray(out, order="C"), allow_pickle=False)
            if not args.quiet:
                _note(f"wrote {key} ({r.dtype(key)}{ins.shape_str(arr.shape)}) to {args.npy}")
            return EXIT_OK
        if args.json:
            doc = {
                "name": key,
                "dtype": r.dtype(key),
                "shape": list(arr.shape),
                "values": ins.to_json_value(arr),
            }
            _json(doc, indent=None)
            return EXIT_OK
        threshold = sys.maxsize if args.full else 1000
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
            _lines(ins.tree_lines(tree, r))
    return EXIT_OK


# -- diff -------------------------------------------------------------------------------------


def _diff_arguments(p: argparse.ArgumentParser) -> None:
    _path_argument(p, "a", "A")
    _path_argument(p, "b", "B")
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
            result = ins.diff_checkpoints(ra, rb, atol=args.atol, progress=progress)
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


def _convert(args: argparse.Namespace) -> int:
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
        elif src.endswith((".safetensors", ".npz")):
            read = _convert.from_safetensors if src.endswith(".safetensors") else _convert.from_npz
            prefix = read(src, dst, object_graph=args.object_graph, progress=progress)
            progress.close()
            if not args.quiet:
                print(f"wrote TensorFlow checkpoint {prefix}")
            return EXIT_OK
        else:
            _note(
                "error: cannot tell the direction: DST must end in .safetensors or .npz "
                "(checkpoint -> file), or SRC must (file -> checkpoint prefix DST); "
                "or pass --to"
            )
            return EXIT_USAGE
    finally:
        progress.close()
    if not args.quiet:
        print(str(report))
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
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def build_parser(commands: tuple[Command, ...] = COMMANDS) -> argparse.ArgumentParser:
    """The `tfckpt` parser: global options, then one subparser per entry of `commands`."""
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
    except (TensorNotFoundError, CheckpointNotFoundError) as e:
        _note(f"tfckpt: not found: {e}")
        return EXIT_NOT_FOUND
    except CheckpointError as e:
        _note(f"tfckpt: error: {e}")
        return EXIT_CORRUPT
    except FileNotFoundError as e:
        _note(f"tfckpt: not found: {e}")
        return EXIT_NOT_FOUND
    except (ImportError, IsADirectoryError, PermissionError) as e:
        _note(f"tfckpt: error: {e}")
        return EXIT_USAGE
    except BrokenPipeError:
        # `tfckpt ls big | head`: stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
