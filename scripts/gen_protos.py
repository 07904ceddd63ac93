#!/usr/bin/env python3
"""Regenerate src/tfckpt_lite/_proto/*_pb2.py and *_pb2.pyi from proto/.

Generator pin
-------------
    grpcio-tools == 1.51.3   (bundles libprotoc 3.21.6, i.e. the protobuf 4.21.6 generation)
    grpcio       == 1.51.3   (required by grpcio-tools)
    protobuf     == 4.21.6   (runtime inside the generator venv only)
    setuptools   == 69.5.1   (grpc_tools 1.51 imports pkg_resources)

Why this old protoc: the project declares ``protobuf>=4.21.6``. Gencode from protoc >= 26
(protobuf 5.26+) calls ``runtime_version.ValidateProtobufRuntimeVersion``, which does not
exist in protobuf 4.x, and protobuf refuses gencode newer than its runtime anyway. Gencode
from protoc 3.21.6 is the oldest one the floor accepts, and it loads under every runtime up
to the newest 7.x (verified; see proto/README.md).

The generator lives in its own venv so it never fights the project's protobuf version.
Default location: ``.cache/gen_protos/venv-<pin>-py<X.Y>`` in the repository (gitignored);
override with ``--venv`` or ``$TFCKPT_GEN_PROTOS_VENV``. grpcio-tools 1.51.3 ships wheels
for CPython 3.7-3.11 only, so the venv is made with the first of: ``--python``,
``$TFCKPT_GEN_PROTOS_PYTHON``, the running interpreter if it is <= 3.11, ``python3.11``,
``python3.10``, ``python3.9`` on PATH. Only binary wheels are installed.

Usage::

    python scripts/gen_protos.py            # rewrite the committed gencode
    python scripts/gen_protos.py --check    # regenerate into a temp dir; exit 1 and
                                            # print a diff when committed files differ

Exit codes: 0 ok, 1 committed gencode differs (--check), 2 any other error (including a
failed install of the generator), 3 the generator is not installed yet and pip can reach no
package index (the only case in which tests may skip the check).

Never edit the generated files by hand: change proto/ and rerun this script.
"""

from __future__ import annotations

import argparse
import difflib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

GRPCIO_TOOLS_VERSION = "1.51.3"
EXPECTED_PROTOC = "libprotoc 3.21.6"
PINNED_REQUIREMENTS = (
    f"grpcio-tools=={GRPCIO_TOOLS_VERSION}",
    f"grpcio=={GRPCIO_TOOLS_VERSION}",
    "protobuf==4.21.6",
    "setuptools==69.5.1",
)
PIN_ID = f"grpcio-tools-{GRPCIO_TOOLS_VERSION}"

REPO = Path(__file__).resolve().parent.parent
PROTO_ROOT = REPO / "proto"
PROTO_PKG = Path("tfckpt_lite") / "_proto"
OUT_DIR = REPO / "src" / PROTO_PKG
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi")

EXIT_DIFF = 1
EXIT_ERROR = 2
EXIT_NO_INDEX = 3


class InstallError(RuntimeError):
    pass


class IndexUnreachableError(InstallError):
    pass


# pip -vv output when it cannot connect to an index at all.
_CONNECTION_MARKERS = (
    "connection error:",
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
)


def _index_unreachable(pip_output: str) -> bool:
    """True when pip failed because it could reach no index, not for another reason."""
    return "(from versions: none)" in pip_output and any(
        m in pip_output for m in _CONNECTION_MARKERS
    )


def _log(msg: str) -> None:
    print(f"gen_protos: {msg}", file=sys.stderr, flush=True)


def _python_version(python: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[0], sys.version_info[1])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return None
    return int(out[0]), int(out[1])


def _find_python(explicit: str | None) -> tuple[str, tuple[int, int]]:
    candidates: list[str] = []
    if explicit:
        candidates.append(explicit)
    env = os.environ.get("TFCKPT_GEN_PROTOS_PYTHON")
    if env:
        candidates.append(env)
    if (3, 7) <= sys.version_info[:2] <= (3, 11):
        candidates.append(sys.executable)
    for name in ("python3.11", "python3.10", "python3.9"):
        found = shutil.which(name)
        if found:
            candidates.append(found)
    for cand in candidates:
        ver = _python_version(cand)
        if ver is not None and (3, 7) <= ver <= (3, 11):
            return cand, ver
        if cand in (explicit, env):
            raise InstallError(f"{cand}: not a usable CPython 3.7-3.11 interpreter")
    raise InstallError(
        "no CPython 3.7-3.11 found (grpcio-tools "
        f"{GRPCIO_TOOLS_VERSION} has wheels only for those); pass --python"
    )


def _venv_python(venv: Path) -> Path:
    if os.name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def _protoc_version(vpy: Path) -> str:
    out = subprocess.run(
        [str(vpy), "-m", "grpc_tools.protoc", "--version"],
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def ensure_generator(venv_arg: str | None, python_arg: str | None) -> Path:
    """Return the python of a venv holding the pinned generator, creating it if needed."""
    python, ver = _find_python(python_arg)
    if venv_arg:
        venv = Path(venv_arg)
    elif os.environ.get("TFCKPT_GEN_PROTOS_VENV"):
        venv = Path(os.environ["TFCKPT_GEN_PROTOS_VENV"])
    else:
        venv = REPO / ".cache" / "gen_protos" / f"venv-{PIN_ID}-py{ver[0]}.{ver[1]}"
    marker = venv / "tfckpt-gen-protos-pin.txt"
    pin_text = "\n".join(PINNED_REQUIREMENTS) + "\n"
    vpy = _venv_python(venv)
    if marker.is_file() and marker.read_text() == pin_text and vpy.exists():
        return vpy

    _log(f"creating generator venv {venv} with {python} ({ver[0]}.{ver[1]})")
    venv.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=venv.name + ".tmp-", dir=venv.parent))
    try:
        subprocess.run([python, "-m", "venv", "--clear", str(tmp)], check=True)
        tpy = _venv_python(tmp)
        # Only binary wheels, so a missing wheel fails fast instead of compiling grpc.
        env = dict(os.environ, PIP_REQUIRE_VIRTUALENV="0")
        res = subprocess.run(
            [
                str(tpy),
                "-m",
                "pip",
                "install",
                "-vv",  # so that connection errors are logged even with PIP_RETRIES=0
                "--disable-pip-version-check",
                "--no-input",
                "--only-binary=:all:",
                *PINNED_REQUIREMENTS,
            ],
            env=env,
            capture_output=True,
            text=True,
        )
        if res.returncode != 0:
            out = res.stdout + res.stderr
            sys.stderr.write("".join(out.splitlines(keepends=True)[-40:]))
            what = f"pip could not install the pinned generator ({' '.join(PINNED_REQUIREMENTS)})"
            if _index_unreachable(out):
                raise IndexUnreachableError(f"{what}: the package index cannot be reached")
            raise InstallError(what)
        got = _protoc_version(tpy)
        if got != EXPECTED_PROTOC:
            raise InstallError(f"pinned generator reports {got!r}, expected {EXPECTED_PROTOC!r}")
        (tmp / marker.name).write_text(pin_text)
        if venv.exists():
            shutil.rmtree(venv)
        try:
            tmp.rename(venv)
        except OSError:
            if not (marker.is_file() and marker.read_text() == pin_text):
                raise
            # Another process finished first; use its venv.
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return vpy


def _proto_files() -> list[Path]:
    files = sorted((PROTO_ROOT / PROTO_PKG).glob("*.proto"))
    if not files:
        raise RuntimeError(f"no .proto files under {PROTO_ROOT / PROTO_PKG}")
    return files


def generate(vpy: Path, out_root: Path) -> dict[str, bytes]:
    """Run the pinned protoc into out_root; return {file name: contents} of the gencode."""
    files = [str(p.relative_to(PROTO_ROOT)) for p in _proto_files()]
    # Include the well-known types (google/protobuf/wrappers.proto) shipped with
    # grpc_tools, and nothing from the host system.
    code = (
        "import os, sys\n"
        "import grpc_tools\n"
        "from grpc_tools import protoc\n"
        "wkt = os.path.join(os.path.dirname(grpc_tools.__file__), '_proto')\n"
        "sys.exit(protoc.main(['protoc', '-I.', '-I' + wkt] + sys.argv[1:]))\n"
    )
    out_root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            str(vpy),
            "-c",
            code,
            f"--python_out={out_root}",
            f"--pyi_out={out_root}",
            *files,
        ],
        check=True,
        cwd=PROTO_ROOT,
    )
    gen_dir = out_root / PROTO_PKG
    result: dict[str, bytes] = {}
    for path in sorted(gen_dir.iterdir()):
        if path.name.endswith(GENERATED_SUFFIXES):
            result[path.name] = path.read_bytes()
    expected = {Path(f).stem + s for f in files for s in GENERATED_SUFFIXES}
    if set(result) != expected:
        raise RuntimeError(f"protoc produced {sorted(result)}, expected {sorted(expected)}")
    return result


def committed() -> dict[str, bytes]:
    if not OUT_DIR.is_dir():
        return {}
    return {
        p.name: p.read_bytes()
        for p in sorted(OUT_DIR.iterdir())
        if p.name.endswith(GENERATED_SUFFIXES)
    }


def check(fresh: dict[str, bytes]) -> int:
    old = committed()
    differ = False
    for name in sorted(set(fresh) | set(old)):
        a = old.get(name)
        b = fresh.get(name)
        if a == b:
            continue
        differ = True
        rel = f"src/{PROTO_PKG.as_posix()}/{name}"
        if a is None:
            print(f"missing committed file: {rel}")
            continue
        if b is None:
            print(f"stale committed file (no .proto makes it): {rel}")
            continue
        diff = difflib.unified_diff(
            a.decode("utf-8", "replace").splitlines(keepends=True),
            b.decode("utf-8", "replace").splitlines(keepends=True),
            fromfile=f"a/{rel} (committed)",
            tofile=f"b/{rel} (regenerated)",
        )
        sys.stdout.writelines(diff)
        print()
    if differ:
        print("gencode is out of date: run python scripts/gen_protos.py", file=sys.stderr)
        return EXIT_DIFF
    print(f"gencode up to date ({len(fresh)} files)")
    return 0


def write(fresh: dict[str, bytes]) -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for name in committed():
        if name not in fresh:
            (OUT_DIR / name).unlink()
            _log(f"removed stale {name}")
    for name, data in fresh.items():
        target = OUT_DIR / name
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)
            _log(f"wrote {target.relative_to(REPO)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 on difference")
    ap.add_argument("--venv", help="generator venv directory (created if missing)")
    ap.add_argument("--python", help="CPython 3.7-3.11 interpreter used to make the venv")
    args = ap.parse_args(argv)
    try:
        vpy = ensure_generator(args.venv, args.python)
    except IndexUnreachableError as exc:
        print(f"gen_protos: cannot set up the pinned generator: {exc}", file=sys.stderr)
        return EXIT_NO_INDEX
    except (InstallError, subprocess.CalledProcessError, OSError) as exc:
        print(f"gen_protos: cannot set up the pinned generator: {exc}", file=sys.stderr)
        return EXIT_ERROR
    try:
        version = _protoc_version(vpy)
        if version != EXPECTED_PROTOC:
            print(
                f"gen_protos: {vpy} has {version!r}, expected {EXPECTED_PROTOC!r}", file=sys.stderr
            )
            return EXIT_ERROR
        with tempfile.TemporaryDirectory(prefix="tfckpt-gen-protos-") as tmp:
            fresh = generate(vpy, Path(tmp))
    except (RuntimeError, subprocess.CalledProcessError, OSError) as exc:
        print(f"gen_protos: generation failed: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.check:
        return check(fresh)
    write(fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
