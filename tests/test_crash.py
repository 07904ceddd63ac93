"""Crash safety of writes: SIGKILL at any moment of a save, disk full, read-only directory.

A forked child saves generation after generation; the parent kills it with SIGKILL, either
at a random moment or exactly before its k-th file-system call (open, write, flush, fsync,
unlink, rename: every step of `save`/`BundleWriter` in turn). Afterwards:

* every file set that looks like a finished checkpoint (`P.index` present) reads completely,
  checksums included, with exactly the values of one whole save (tensors record their
  generation, so a mix of two saves cannot pass);
* the checkpoint the state file names (when there is one) is such a checkpoint;
* stale temporary files are ignored by readers and do not stop the next save.

Disk full (ENOSPC) and a read-only directory (EROFS) are injected by a real tiny tmpfs when
this process may mount one, and by a patched `open` otherwise: the save raises an OSError
naming the checkpoint, the previous checkpoint still reads, and no temp file is left.

The quick default run makes a few random-kill trials per scenario and kills before every third
file-system call; TFCKPT_DEEP=1 (CI) makes 150 and kills before every call;
TFCKPT_CRASH_TRIALS sets the number of random kills.
"""

from __future__ import annotations

import errno
import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite
from tfckpt_lite import _storage

from .conftest import budget, report

RANDOM_TRIALS = budget(150, 4, "TFCKPT_CRASH_TRIALS")
STEP_STRIDE = budget(1, 3)  # the quick run kills before every third file-system call
BIG = 1 << 17  # float32 elements: half a MiB per tensor, so kills land mid-write
SEED = 4

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")


def tensors(g: int) -> dict[str, Any]:
    """Generation g's values; every tensor carries g, so a torn mix is detectable."""
    return {
        "a_step": np.int64(g),
        "big": np.full(BIG, g, np.float32),
        "strings": np.array([b"gen-%d" % g] * 3 + [b"x" * (g % 200)], dtype=object),
        "z_last": np.full((4, 4), g, np.int32),
    }


def write_state(d: Path, name: str) -> None:
    """What a checkpoint manager does after a save: replace the state file atomically."""
    tmp = d / f"checkpoint.tmp{os.getpid()}"
    tmp.write_text(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')
    os.replace(tmp, d / "checkpoint")


# -- what the child does: one generation of each scenario ---------------------------------------


def gen_save(d: Path, g: int) -> None:
    """`save` over the same prefix again and again."""
    tfckpt_lite.save(d / "ckpt", tensors(g))


def gen_writer_with_state(d: Path, g: int) -> None:
    """Streaming BundleWriter to a fresh prefix, state file after it, keep the last two."""
    with tfckpt_lite.BundleWriter(d / f"ckpt-{g}") as w:
        for k, v in tensors(g).items():
            w.add(k, v)
    write_state(d, f"ckpt-{g}")
    remove_checkpoint(d / f"ckpt-{g - 2}")


def remove_checkpoint(prefix: Path) -> None:
    """Index first: once it is gone nothing looks finished, so data can follow at leisure.
    (Deleting in directory order tears: a kill between the two leaves an index whose data
    is gone, which this test caught in the first version of this scenario.)"""
    prefix.with_name(prefix.name + ".index").unlink(missing_ok=True)
    for data in prefix.parent.glob(prefix.name + ".data-*"):
        data.unlink()


def gen_checkpoint_save(d: Path, g: int) -> None:
    """`Checkpoint.save`: object-based checkpoint `ckpt-g` plus the state file."""
    ckpt = tfckpt_lite.Checkpoint(**tensors(g))
    ckpt.save_counter = g - 1
    ckpt.save(d / "ckpt")


def gen_manager(d: Path, g: int) -> None:
    """`CheckpointManager.save` with max_to_keep=2 (a fresh manager: a restarted job)."""
    manager = tfckpt_lite.CheckpointManager(tfckpt_lite.Checkpoint(**tensors(g)), d, max_to_keep=2)
    manager.save(checkpoint_number=g)


GENERATIONS: dict[str, Callable[[Path, int], None]] = {
    "save": gen_save,
    "writer+state": gen_writer_with_state,
}
if hasattr(tfckpt_lite, "CheckpointManager") and hasattr(tfckpt_lite, "Checkpoint"):
    GENERATIONS["Checkpoint.save"] = gen_checkpoint_save
    GENERATIONS["CheckpointManager.save"] = gen_manager
STATEFUL = {"writer+state", "Checkpoint.save", "CheckpointManager.save"}


def saving_forever(scenario: str, d: Path, start: int) -> Callable[[], None]:
    def body() -> None:
        for g in range(start, start + 10_000):
            GENERATIONS[scenario](d, g)

    return body


class KillAt:
    """Counts the writes' file-system calls (files are opened in `_storage`); SIGKILLs its own
    process before call `k`."""

    def __init__(self, k: int) -> None:
        self.k = k
        self.n = 0

    def step(self) -> None:
        if self.n == self.k:
            os.kill(os.getpid(), signal.SIGKILL)
        self.n += 1

    def install(self) -> None:
        real_open = open

        class File:
            def __init__(self, f: Any, step: Callable[[], None]) -> None:
                self._f, self._step = f, step

            def write(self, b: Any) -> int:
                self._step()
                n: int = self._f.write(b)
                return n

            def flush(self) -> None:
                self._step()
                self._f.flush()

            def fileno(self) -> int:
                r: int = self._f.fileno()
                return r

            def __getattr__(self, name: str) -> Any:  # reads (the state file) are not counted
                return getattr(self._f, name)

            def close(self) -> None:
                self._step()
                self._f.close()

            def __enter__(self) -> File:
                return self

            def __exit__(self, *a: object) -> None:
                self.close()

        def counted_open(*a: Any, **kw: Any) -> File:
            self.step()
            return File(real_open(*a, **kw), self.step)

        _storage.open = counted_open  # type: ignore[attr-defined]
        for name in ("fsync", "replace", "unlink", "rename"):
            real = getattr(os, name)

            def wrapped(*a: Any, _real: Any = real, **kw: Any) -> Any:
                self.step()
                return _real(*a, **kw)

            setattr(os, name, wrapped)


def run_child(
    body: Callable[[], None], *, kill_after: float | None = None, timeout: float = 20
) -> int:
    """Fork; the child runs `body` and exits 0. Returns the child's wait status."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 0
        try:
            body()
        except BaseException:
            code = 1
        os._exit(code)
    if kill_after is not None:
        time.sleep(kill_after)
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError("child hung")
        time.sleep(0.002)


# -- what the parent checks ---------------------------------------------------------------------


def _plain_name(key: str) -> str | None:
    """The tensor name in `tensors()` for a key of a name-based or object-based checkpoint."""
    if key in ("_CHECKPOINTABLE_OBJECT_GRAPH", "save_counter/.ATTRIBUTES/VARIABLE_VALUE"):
        return None
    return key.removesuffix("/.ATTRIBUTES/VARIABLE_VALUE")


def check_values(prefix: Path | str) -> int:
    """The checkpoint reads completely, checksums on, with one generation's values."""
    with tfckpt_lite.load_checkpoint(prefix) as r:
        r.verify()
        got = {name: r[k] for k in r if (name := _plain_name(k)) is not None}
    g = int(got["a_step"])
    want = tensors(g)
    assert got.keys() == want.keys(), f"{prefix}: keys {sorted(got)}"
    for k, v in want.items():
        assert np.asarray(got[k]).tolist() == np.asarray(v).tolist(), f"{prefix}: {k} torn"
    return g


def check_dir(d: Path, scenario: str) -> tuple[str, list[int]]:
    """Assert the crash-safety promise on directory `d`; return an outcome label and the
    generations of the finished checkpoints."""
    finished = sorted(p.with_suffix("") for p in d.glob("*.index"))
    temps = [p for p in d.iterdir() if ".tempstate" in p.name or ".tmp" in p.name]
    gens = sorted(check_values(p) for p in finished)  # nothing finished holds partial data
    outcome = "finished" if finished else "nothing-finished"
    if scenario in STATEFUL:
        latest = tfckpt_lite.latest_checkpoint(d)
        assert latest is not None, "the state file must always name a whole checkpoint"
        g = check_values(latest)
        assert check_values(d) == g  # the directory form, stale temp files and all
        outcome += f", latest={'newest' if g == max(gens) else 'previous'}"
    elif finished:
        check_values(d / "ckpt")
    for t in temps:  # a stale temp file is never mistaken for a checkpoint
        with pytest.raises(tfckpt_lite.NotACheckpointError):
            tfckpt_lite.load_checkpoint(t)
    if temps:
        outcome += " +stale temps"
    return outcome, gens


# -- the tests ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(GENERATIONS))
def test_kill_at_random_moments(tmp_path: Path, scenario: str) -> None:
    rnd = random.Random(f"{SEED}-{scenario}")
    gen = GENERATIONS[scenario]
    # How long one generation takes here, so that kills spread over the first few.
    # (The first call imports what the save needs; time the second.)
    (tmp_path / "timing").mkdir()
    gen(tmp_path / "timing", 1)
    t = time.perf_counter()
    gen(tmp_path / "timing", 2)
    one = max(time.perf_counter() - t, 0.002)
    outcomes: Counter[str] = Counter()
    for trial in range(RANDOM_TRIALS):
        d = tmp_path / f"t{trial}"
        d.mkdir()
        start = 2 + 1000 * trial
        gen(d, start - 1)  # a previous checkpoint the crash must not harm
        status = run_child(saving_forever(scenario, d, start), kill_after=rnd.uniform(0, 6 * one))
        assert os.WIFSIGNALED(status), f"the child failed or finished (status {status})"
        outcome, _ = check_dir(d, scenario)
        outcomes[outcome] += 1
        if trial % 10 == 0:  # after a crash the next save works and wins
            gen(d, start + 999)
            assert check_values(d if scenario in STATEFUL else d / "ckpt") == start + 999
    report("crash trials", {f"random kill, {scenario}: {k}": v for k, v in outcomes.items()})
    assert sum(outcomes.values()) == RANDOM_TRIALS


@pytest.mark.parametrize("scenario", sorted(GENERATIONS))
def test_kill_before_every_write_step(tmp_path: Path, scenario: str) -> None:
    """Deterministic: one trial per file-system call of a save, killed just before it (every
    third call in the quick run)."""
    gen = GENERATIONS[scenario]
    outcomes: Counter[str] = Counter()
    k = 0
    while True:
        d = tmp_path / f"k{k}"
        d.mkdir()
        gen(d, 1)  # one whole save first (not instrumented), then the instrumented second

        def second(d: Path = d, k: int = k) -> None:
            KillAt(k).install()
            gen(d, 2)

        status = run_child(second)
        outcome, gens = check_dir(d, scenario)
        assert set(gens) <= {1, 2}
        if os.WIFEXITED(status):
            assert os.WEXITSTATUS(status) == 0, "the instrumented save failed"
            assert gens[-1] == 2
            break
        outcomes[f"{outcome}, finished gens {gens}"] += 1
        k += STEP_STRIDE
        assert k < 300
    outcomes["steps"] = k
    report("crash trials", {f"kill before step k, {scenario}: {o}": n for o, n in outcomes.items()})
    assert k >= 8  # open, writes, flush, fsync, close, index, renames: all were hit


def _assert_clean_failure(d: Path, err: OSError, code: int, before: set[str]) -> None:
    assert err.errno == code
    assert "could not save checkpoint" in str(err)
    assert {p.name for p in d.iterdir()} == before, "temp files left behind"
    assert check_values(d / "ckpt") == 1  # the previous checkpoint is intact


class _FailingFile:
    """A file on a disk with `budget[0]` bytes free (shared by every file opened)."""

    def __init__(self, f: Any, budget: list[int]) -> None:
        self._f, self._budget = f, budget

    def write(self, b: Any) -> int:
        n = memoryview(b).nbytes
        if n > self._budget[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget[0] -= n
        r: int = self._f.write(b)
        return r

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *a: object) -> None:
        self._f.close()


@pytest.mark.parametrize("budget", [0, 100, BIG * 4 + 10, BIG * 4 + 200])
def test_disk_full_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int) -> None:
    """ENOSPC at various points (data file, mid-tensor, index file): clean failure."""
    tfckpt_lite.save(tmp_path / "ckpt", tensors(1))
    before = {p.name for p in tmp_path.iterdir()}
    real_open = open
    free = [budget]
    monkeypatch.setattr(
        _storage, "open", lambda *a, **kw: _FailingFile(real_open(*a, **kw), free), raising=False
    )
    with pytest.raises(OSError) as info:
        tfckpt_lite.save(tmp_path / "ckpt", tensors(2))
    monkeypatch.undo()
    _assert_clean_failure(tmp_path, info.value, errno.ENOSPC, before)


def test_read_only_directory_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tfckpt_lite.save(tmp_path / "ckpt", tensors(1))
    before = {p.name for p in tmp_path.iterdir()}

    def refuse(path: str, *a: Any, **kw: Any) -> Any:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(_storage, "open", refuse, raising=False)
    with pytest.raises(OSError) as info:
        tfckpt_lite.save(tmp_path / "ckpt", tensors(2))
    monkeypatch.undo()
    _assert_clean_failure(tmp_path, info.value, errno.EROFS, before)


@contextmanager
def tiny_tmpfs(where: Path, size: str) -> Iterator[Path]:
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_disk_full_real_tmpfs(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "mnt", "1m") as d:
        tfckpt_lite.save(d / "ckpt", tensors(1))  # ~0.5 MiB: fits once, not twice
        before = {p.name for p in d.iterdir()}
        with pytest.raises(OSError) as info:
            tfckpt_lite.save(d / "ckpt", tensors(2))
        _assert_clean_failure(d, info.value, errno.ENOSPC, before)
        with pytest.raises(OSError) as info:
            tfckpt_lite.save(d / "other", tensors(3))
        _assert_clean_failure(d, info.value, errno.ENOSPC, before)


def test_read_only_real_mount(tmp_path: Path) -> None:
    with tiny_tmpfs(tmp_path / "mnt", "4m") as d:
        tfckpt_lite.save(d / "ckpt", tensors(1))
        before = {p.name for p in d.iterdir()}
        r = subprocess.run(["mount", "-o", "remount,ro", str(d)], capture_output=True, check=False)
        if r.returncode != 0:
            pytest.skip("cannot remount read-only")
        with pytest.raises(OSError) as info:
            tfckpt_lite.save(d / "ckpt", tensors(2))
        _assert_clean_failure(d, info.value, errno.EROFS, before)


def test_stale_temp_files_are_ignored(tmp_path: Path) -> None:
    """Leftovers of a killed save beside a good checkpoint change nothing for readers."""
    tfckpt_lite.save(tmp_path / "ckpt-1", tensors(1))
    write_state(tmp_path, "ckpt-1")
    (tmp_path / "ckpt-2.data-00000-of-00001.tempstate123").write_bytes(b"\0" * 100)
    (tmp_path / "ckpt-2.index.tempstate456").write_bytes(b"partial index")
    assert check_values(tmp_path) == 1
    assert tfckpt_lite.latest_checkpoint(tmp_path) == str(tmp_path / "ckpt-1")
    (tmp_path / "checkpoint").unlink()  # no state file: the one finished prefix is found
    assert check_values(tmp_path) == 1
    with pytest.raises(tfckpt_lite.NotACheckpointError, match="temporary file"):
        tfckpt_lite.load_checkpoint(tmp_path / "ckpt-2.index.tempstate456")


def test_disk_full_during_manager_save(tmp_path: Path) -> None:
    """CheckpointManager on a full disk: the save fails cleanly, the state file still names
    the previous checkpoint, which reads; no temp file is left."""
    if "CheckpointManager.save" not in GENERATIONS:
        pytest.skip("no CheckpointManager")
    with tiny_tmpfs(tmp_path / "mnt", "1m") as d:
        gen_manager(d, 1)
        before = {p.name for p in d.iterdir()}
        with pytest.raises(OSError) as info:
            gen_manager(d, 2)
        assert info.value.errno == errno.ENOSPC
        assert {p.name for p in d.iterdir()} == before, "temp files left behind"
        assert tfckpt_lite.latest_checkpoint(d) == str(d / "ckpt-1")
        assert check_values(d) == 1
