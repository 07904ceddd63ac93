"""Corruption sweep: every read path keeps the robustness promise on damaged checkpoints.

For each checkpoint (written by our writer, written by TF 2.21 in `testdata/`, and the
real-world corpus when it is on this machine) and each of its files, we flip single bits
(every bit of small files, a fixed-seed random sample of big ones) and truncate at every
length (sampled for big files), and run the whole read path on each copy: open, keys,
dtype/shape, every `get_tensor` (verified and not), `get_slice` rows, `verify`. Each copy must
either give exactly the pristine values or raise a `CheckpointError` that names the damaged
file (index or data shard: the message says which) and the tensor.

The copies live in an in-memory filesystem, so a copy costs a fraction of a millisecond; a
small sample also goes through real files, `list_variables` and `load`.

Scale: the quick default run samples 1% of the CI budget of positions (at least one per file
and mode) and every fourth corpus checkpoint; TFCKPT_DEEP=1 runs the CI budget;
TFCKPT_SWEEP_SCALE=10 samples ten times as many positions.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite
from tfckpt_lite._storage import LocalFileSystem
from tfckpt_lite._table import build_table, read_table

from ._robust_util import (
    REPO,
    MemFS,
    Outcome,
    PromiseBroken,
    check_error,
    check_promise,
    load_dir,
    read_all,
    realworld_dir,
)
from .conftest import DEEP, budget, report

SCALE = budget(1.0, 0.01, "TFCKPT_SWEEP_SCALE")
SEED = 20261125
ROOT = "/ckpt"

Files = dict[str, bytes]


# -- the checkpoints ------------------------------------------------------------------------


def _writer_small(tmp: Path) -> tuple[Files, str]:
    rng = np.random.default_rng(SEED)
    prefix = tmp / "small"
    with tfckpt_lite.BundleWriter(prefix, fsync=False) as w:
        w.add("f32", rng.standard_normal((3, 4)).astype(np.float32))
        w.add("f64", rng.standard_normal(3))
        w.add("i8", np.array([-128, 0, 127], np.int8))
        w.add("u16", np.array([[1, 65535]], np.uint16))
        w.add("i64", np.arange(-2, 3, dtype=np.int64))
        w.add("c64", np.array([1 + 2j, -3j], np.complex64))
        w.add("bf16", rng.standard_normal(4).astype(ml_dtypes.bfloat16))
        w.add("f16", np.array([0.5, np.inf], np.float16))
        w.add("bools", np.array([True, False, True]))
        w.add("scalar", 7)
        w.add("empty", np.zeros((0, 3), np.float32))
        w.add("strs", np.array([b"a", b"hello", b"", b"x" * 200], dtype=object).reshape(2, 2))
        w.add("str_scalar", b"\x00\xff binary")
        w.add_slice("part", (4, 3), "0,2:-", np.ones((2, 3), np.float32))
        w.add_slice("part", (4, 3), "2,2:-", np.full((2, 3), 2.0, np.float32))
        w.add_slice("spart", (3,), "0,1", np.array([b"s0"], dtype=object))
        w.add_slice("spart", (3,), "1,2", np.array([b"s1", b"s2" * 70], dtype=object))
    return load_dir(prefix), "small"


def _writer_multiblock(tmp: Path) -> tuple[Files, str]:
    """Many keys, and the index rebuilt with 512-byte blocks so it has many data blocks."""
    prefix = tmp / "many"
    with tfckpt_lite.BundleWriter(prefix, fsync=False) as w:
        for i in range(120):
            w.add(f"layer_{i:03d}/kernel", np.full((2,), i, np.int32))
    files = load_dir(prefix)
    items = read_table(files["many.index"])
    files["many.index"] = build_table(items, block_size=512)
    assert len(files["many.index"]) > 4 * 512
    return files, "many"


def _dedup(cases: Iterator[tuple[str, Path]]) -> list[tuple[str, Path]]:
    seen: set[str] = set()
    out = []
    for name, prefix in cases:
        files = load_dir(prefix)
        h = hashlib.sha256(b"".join(k.encode() + files[k] for k in sorted(files))).hexdigest()
        if h not in seen:
            seen.add(h)
            out.append((name, prefix))
    return out


def _testdata_cases() -> list[tuple[str, Path]]:
    root = REPO / "testdata"
    if not root.is_dir():
        return []
    found = ((str(p.relative_to(root)), p.with_suffix("")) for p in sorted(root.rglob("*.index")))
    return _dedup(found)


def _corpus_cases() -> list[tuple[str, Path]]:
    root = realworld_dir()
    if root is None:
        return []
    found = ((str(p.relative_to(root)), p.with_suffix("")) for p in sorted(root.rglob("*.index")))
    return _dedup(found)


# -- the sweep ------------------------------------------------------------------------------


def _flip(data: bytes, bit: int) -> bytes:
    m = bytearray(data)
    m[bit >> 3] ^= 1 << (bit & 7)
    return bytes(m)


def _positions(rnd: random.Random, n: int, budget: int) -> list[int]:
    budget = max(1, int(budget * SCALE))
    return list(range(n)) if n <= budget else sorted(rnd.sample(range(n), budget))


def sweep(files: Files, name: str, *, flips: int, truncations: int) -> Counter[str]:
    """Mutate each file of the checkpoint in turn; assert the promise on every copy."""
    rnd = random.Random(f"{SEED}-{name}")
    base = {f"{ROOT}/{k}": v for k, v in files.items()}
    path = f"{ROOT}/{name}"
    pristine = read_all(path, MemFS(base))
    stats: Counter[str] = Counter()
    failures: list[str] = []
    for fname, data in sorted(files.items()):
        target = f"{ROOT}/{fname}"
        is_data = ".data-" in fname
        jobs = [("flip", b, _flip(data, b)) for b in _positions(rnd, 8 * len(data), flips)]
        jobs += [("truncate", n, data[:n]) for n in _positions(rnd, len(data), truncations)]
        for mode, where, mutated in jobs:
            what = f"{mode} {fname}@{where}"
            out = read_all(path, MemFS({**base, target: mutated}))
            try:
                stats[
                    check_promise(
                        pristine, out, what, data_mutated=is_data, blame=target, notes=stats
                    )
                ] += 1
            except PromiseBroken as e:
                failures.append(str(e))
            stats["copies"] += 1
            stats[f"{mode}s"] += 1
    report("corruption sweep", stats)
    if failures:
        raise AssertionError(f"{len(failures)} broken promises, e.g.:\n" + "\n".join(failures[:8]))
    return stats


def test_sweep_writer_small(tmp_path: Path) -> None:
    files, name = _writer_small(tmp_path)
    stats = sweep(files, name, flips=20000, truncations=5000)
    # Sanity of the sweep itself: every bit and length was tried (at the CI budget), and
    # damage was noticed.
    assert stats["flips"] == sum(
        min(8 * len(v), max(1, int(20000 * SCALE))) for v in files.values()
    )
    assert stats["open-error"] > 0 and stats["error"] > 0


def test_sweep_writer_multiblock(tmp_path: Path) -> None:
    files, name = _writer_multiblock(tmp_path)
    stats = sweep(files, name, flips=1200, truncations=200)
    assert stats["open-error"] > 0


@pytest.mark.parametrize(
    ("name", "prefix"), _testdata_cases(), ids=[n for n, _ in _testdata_cases()]
)
def test_sweep_tf_fixture(name: str, prefix: Path) -> None:
    files = load_dir(prefix)
    sweep(files, prefix.name, flips=600, truncations=120)


def test_sweep_realworld() -> None:
    cases = _corpus_cases()
    if not cases:
        pytest.skip("real-world corpus not found (set TFCKPT_REALWORLD)")
    total: Counter[str] = Counter()
    for _, prefix in cases if DEEP else cases[::4]:
        total += sweep(load_dir(prefix), prefix.name, flips=120, truncations=40)
    assert total["copies"] > (10000 if DEEP else 50)


def _corpus_v1_files() -> list[Path]:
    """Single-file V1 checkpoints (SavedTensorSlices tables) of the corpus, deduplicated."""
    root = realworld_dir()
    if root is None:
        return []
    seen: set[bytes] = set()
    out = []
    skip = (".index", ".pb", ".meta", ".md", ".pbtxt", ".json", ".txt")
    for p in sorted(root.rglob("*")):
        if not p.is_file() or p.name.endswith(skip) or ".data-" in p.name:
            continue
        data = p.read_bytes()
        if len(data) < 48 or data[-8:] != bytes.fromhex("57fb808b247547db"):
            continue
        h = hashlib.sha256(data).digest()
        if h not in seen:
            seen.add(h)
            out.append(p)
    return out


def test_sweep_realworld_v1() -> None:
    files = _corpus_v1_files()
    if not files:
        pytest.skip("real-world corpus not found (set TFCKPT_REALWORLD)")
    total: Counter[str] = Counter()
    for p in files:
        total += sweep({p.name: p.read_bytes()}, p.name, flips=300, truncations=60)
    assert total["exact"] > 0 and total["copies"] > 1000 * min(SCALE, 1)


def test_sweep_on_disk(tmp_path: Path) -> None:
    """A sample through real files: mmap, copying reads (`mmap=False`), `list_variables`,
    `load`, and the path forms."""
    files, name = _writer_small(tmp_path / "src")
    rnd = random.Random(SEED)
    pristine = read_all(str(tmp_path / "src" / name))
    expected = tfckpt_lite.load(tmp_path / "src" / name)
    for trial in range(budget(40, 10)):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        fname = rnd.choice(sorted(files))
        data = files[fname]
        mutated = (
            _flip(data, rnd.randrange(8 * len(data)))
            if trial % 2
            else data[: rnd.randrange(len(data))]
        )
        for k, v in files.items():
            (d / k).write_bytes(mutated if k == fname else v)
        for fs in (None, LocalFileSystem(use_mmap=False)):
            out = read_all(str(d / name), fs)
            check_promise(
                pristine,
                out,
                f"disk {trial} {fname} {'mmap' if fs is None else 'copying'}",
                data_mutated=".data-" in fname,
                blame=str(d / fname),
            )
        calls: list[tuple[Callable[[Path], object], Path]] = [
            (tfckpt_lite.list_variables, d / name),
            (tfckpt_lite.load, d / name),
            (tfckpt_lite.load, d / fname),  # the .index or .data file path form
        ]
        for call, arg in calls:
            try:
                got: Any = call(arg)
            except Exception as e:
                check_error(e, f"disk {trial}", None)
                continue
            if isinstance(got, dict):
                assert got.keys() == expected.keys()
                for k in got:
                    np.testing.assert_array_equal(got[k], expected[k])


def test_sweep_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The `tfckpt` command on damaged copies: exit 1 or 3 with a message, never a traceback;
    `verify` exits 0 only when every value is intact."""
    from tfckpt_lite._cli import main

    files, name = _writer_small(tmp_path / "src")
    expected = tfckpt_lite.load(tmp_path / "src" / name)
    rnd = random.Random(SEED + 1)
    codes: Counter[int] = Counter()
    for trial in range(budget(30, 8)):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        fname = sorted(files)[trial % len(files)]
        data = files[fname]
        bad = _flip(data, rnd.randrange(8 * len(data))) if trial % 3 else data[: len(data) // 2]
        for k, v in files.items():
            (d / k).write_bytes(bad if k == fname else v)
        path = str(d / name)
        for argv in (["ls", path], ["verify", path], ["tree", path], ["show", path, "strs"]):
            code = main(argv)
            err = capsys.readouterr().err
            assert code in (0, 1, 3), (argv, code, err)
            assert "Traceback" not in err
            if code:
                assert err.strip(), f"{argv}: exit {code} without a message"
            codes[code] += 1
            if argv[0] == "verify" and code == 0:
                got = tfckpt_lite.load(path)
                assert all(
                    np.asarray(got[k]).tolist() == np.asarray(expected[k]).tolist()
                    for k in expected
                )
    assert codes[1] > 0


def test_promise_checker_catches_violations() -> None:
    """The checker itself must fail on the things it exists to catch."""
    ok = Outcome(opened=["a"], ops={("a", "get"): np.zeros(2, np.float32)})
    wrong = Outcome(opened=["a"], ops={("a", "get"): np.ones(2, np.float32)})
    leak = Outcome(opened=["a"], ops={("a", "get"): IndexError("boom")})
    anonymous = Outcome(opened=["a"], ops={("a", "get"): tfckpt_lite.CorruptCheckpointError("x")})
    misblamed = Outcome(
        opened=["a"],
        ops={("a", "get"): tfckpt_lite.CorruptCheckpointError("x", path="i", key="a")},
    )
    for bad in (wrong, leak, anonymous):
        with pytest.raises(PromiseBroken):
            check_promise(ok, bad, "t")
    with pytest.raises(PromiseBroken):
        check_promise(ok, misblamed, "t", blame="d")
    assert check_promise(ok, misblamed, "t", blame="i") == "error"
