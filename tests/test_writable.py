"""What the library hands to a caller is the caller's: writable, private arrays.

Every read path is exercised the way real code uses its result: by writing into it (NumPy
in-place ops, ``torch.from_numpy(...).add_`` and an optimizer step as porting scripts do).
After every write: a second read of the same key, another reader and another process still
see the stored values, and the checkpoint files' bytes (sha256) are unchanged. Tests whose
failure mode is a crash (a write into memory mapped read-only is SIGSEGV) run in a
subprocess and assert its return code. ``readonly=True`` is the opt-in exception: its arrays
say ``writeable == False``, and writing through them anyway (torch ignores the flag) neither
crashes nor reaches the file.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._bundle import Entry, decode_entry, encode_entry, encode_header
from tfckpt_lite._bundle import Header as BundleHeader
from tfckpt_lite._coding import crc32c, mask_crc
from tfckpt_lite._storage import PRIVATE_MAP_MIN
from tfckpt_lite._table import build_table, read_table

from .conftest import REPO

TESTDATA = REPO / "testdata"
SRC = REPO / "src"

BIG_SHAPE = (512, 1024)  # 2 MiB of float32: above PRIVATE_MAP_MIN, a private mapping
assert 4 * BIG_SHAPE[0] * BIG_SHAPE[1] >= 2 * PRIVATE_MAP_MIN


def values() -> dict[str, Any]:
    rng = np.random.default_rng(10)
    return {
        "a_str": np.array([b"ab"], object),  # 7 bytes in the data file: what follows is odd
        "b_mis_f64": np.arange(10, dtype=np.float64),  # misaligned (see test_fixture_layout)
        "c_mis_big": rng.standard_normal(BIG_SHAPE).astype(np.float32),  # misaligned, large
        "c_pad": np.array([1], np.uint8),  # realigns what follows to 8 bytes
        "dense/bias": rng.standard_normal(64).astype(np.float32),
        "dense/kernel": rng.standard_normal(BIG_SHAPE).astype(np.float32),
        "emb/bf16": rng.standard_normal((8, 4)).astype(ml_dtypes.bfloat16),
        "emb/i64": np.arange(100, dtype=np.int64).reshape(10, 10),
        "names": np.array([b"x", b"yz", b""], object),
        "step": np.array(7.5, np.float32),
    }


def sha256_of(paths: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def files_of(prefix: Path) -> list[Path]:
    return sorted(p for p in prefix.parent.iterdir() if p.is_file())


@pytest.fixture
def ckpt(tmp_path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """A checkpoint with large and small, aligned and misaligned, numeric and string tensors;
    yields (prefix, values) and asserts afterwards that no byte of its files changed."""
    vals = values()
    d = tmp_path / "ck"
    d.mkdir()
    prefix = d / "c"
    with tfc.BundleWriter(prefix) as w:  # in this order: the data file follows it
        for k, v in vals.items():
            w.add(k, v)
    before = sha256_of(files_of(prefix))
    yield prefix, vals
    assert sha256_of(files_of(prefix)) == before


def same(a: Any, b: Any) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    return bool(a.tolist() == b.tolist()) if a.dtype == object else a.tobytes() == b.tobytes()


def bump(a: np.ndarray[Any, Any]) -> None:
    """Write into every element of `a` in place, whatever its dtype."""
    assert a.flags.writeable, "returned array is read-only"
    if a.dtype == object:
        a[...] = np.full(a.shape, b"changed", object)
    elif a.dtype.kind in "iufc" and a.dtype.type.__module__ == "numpy":
        a += a.dtype.type(1)
    else:  # bool and ml_dtypes (bfloat16, float8, int4): flip the lowest bit
        bits = a.view(f"u{a.dtype.itemsize}")
        bits ^= 1


def test_fixture_layout(ckpt: tuple[Path, dict[str, Any]]) -> None:
    """The fixture covers what it claims: misaligned offsets, a mapped and a copied size."""
    prefix, _ = ckpt
    index = dict(read_table(Path(str(prefix) + ".index").read_bytes()))
    entries = {k.decode(): decode_entry(v) for k, v in index.items() if k}
    assert entries["b_mis_f64"].offset % 8 != 0
    assert entries["c_mis_big"].offset % 4 != 0
    assert entries["c_mis_big"].size >= PRIVATE_MAP_MIN
    assert entries["dense/kernel"].offset % 4 == 0
    assert entries["dense/kernel"].size >= PRIVATE_MAP_MIN
    assert entries["dense/bias"].size < PRIVATE_MAP_MIN


# -- every read path, NumPy in-place writes ---------------------------------------------------


def check_private(want: Any, read: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """`read(*args, **kwargs)` twice: each result is writable, equals `want`, and is
    independent of the other and of later reads."""
    first, second = read(*args, **kwargs), read(*args, **kwargs)
    assert same(first, want) and same(second, want)
    bump(first)
    assert not same(first, want)
    assert same(second, want), "two reads share memory"
    assert same(read(*args, **kwargs), want), "a write reached later reads"


def test_reader_getitem_and_get_tensor(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    with tfc.load_checkpoint(prefix) as r, tfc.load_checkpoint(prefix) as other:
        for k, v in vals.items():
            check_private(v, r.__getitem__, k)
            if np.ndim(v):
                check_private(v, r.get_tensor, k)
                check_private(v, r.get_tensor, k, verify=False)
        for k, v in vals.items():
            assert same(other[k], v), k


def test_scalars_are_numpy_scalars_as_in_tf(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    got = tfc.load_variable(prefix, "step")
    assert isinstance(got, np.float32) and got == vals["step"]
    got += 1  # immutable scalar: rebinds, never touches anything shared
    assert tfc.load_variable(prefix, "step") == vals["step"]


def test_load_variable(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    for k, v in vals.items():
        if np.ndim(v):
            check_private(v, tfc.load_variable, prefix, k)


def test_load_and_load_tree(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    a, b = tfc.load(prefix), tfc.load(prefix)
    for k, v in vals.items():
        bump(a[k])
        assert same(b[k], v), k
    tree = tfc.load_tree(prefix)
    kernel = tree["dense"]["kernel"]
    kernel *= 2
    np.testing.assert_array_equal(kernel, vals["dense/kernel"] * 2)
    assert same(tfc.load_tree(prefix)["dense"]["kernel"], vals["dense/kernel"])


def _many_large(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    """Several large tensors back to back, with odd sizes so that neighbours share pages."""
    rng = np.random.default_rng(11)
    vals: dict[str, Any] = {
        f"w{i}": rng.standard_normal(PRIVATE_MAP_MIN // 4 + 1000 * i + 3).astype(np.float32)
        for i in range(5)
    }
    vals["x_small"] = np.arange(5, dtype=np.int32)
    prefix = tmp_path / "many" / "c"
    tfc.save(prefix, vals, fsync=False)
    return prefix, vals


def test_load_of_many_large_tensors_hands_out_disjoint_private_arrays(tmp_path: Path) -> None:
    """`load()` hands out large tensors as views of one mapping per data file and call:
    each array is writable, touches no other array of the call, no other call and not the
    file, and stays valid after the reader is gone."""
    prefix, vals = _many_large(tmp_path)
    before = sha256_of(files_of(prefix))
    a, b = tfc.load(prefix), tfc.load(prefix)
    import gc

    gc.collect()
    for k in a:
        bump(a[k])
        assert all(same(a[j], vals[j]) for j in a if j > k), f"writing {k} changed a neighbour"
        assert not same(a[k], vals[k]), k
    assert all(same(b[k], vals[k]) for k in vals)
    assert same(tfc.load(prefix)["w3"], vals["w3"])
    assert sha256_of(files_of(prefix)) == before
    del b
    gc.collect()
    np.testing.assert_array_equal(a["w4"], vals["w4"] + 1)


def test_load_of_entries_sharing_bytes_gives_each_its_own_array(tmp_path: Path) -> None:
    """A hostile index may point two keys at the same bytes (or overlapping ones): `load()`
    then still gives each key memory of its own."""
    prefix, vals = _many_large(tmp_path)
    index_path = Path(str(prefix) + ".index")
    items = dict(read_table(index_path.read_bytes()))
    data = Path(str(prefix) + ".data-00000-of-00001").read_bytes()
    w1 = decode_entry(items[b"w1"])
    w2 = decode_entry(items[b"w2"])
    items[b"w2"] = items[b"w1"]  # the same bytes
    # w3 starts inside w2's (now w1's) bytes: a partial overlap, with a valid checksum.
    n3 = vals["w3"].size
    off3 = w1.offset + 4096
    assert off3 + 4 * n3 <= len(data)
    items[b"w3"] = encode_entry(
        Entry(
            dtype=w2.dtype,
            shape=(n3,),
            offset=off3,
            size=4 * n3,
            crc32c=mask_crc(crc32c(data[off3 : off3 + 4 * n3])),
        )
    )
    index_path.write_bytes(build_table(sorted(items.items())))
    got = tfc.load(prefix)
    want = {
        "w1": vals["w1"],
        "w2": vals["w1"],
        "w3": np.frombuffer(data[off3 : off3 + 4 * n3], np.float32),
    }
    for k, v in want.items():
        assert same(got[k], v), k
    for k in want:
        bump(got[k])
        assert all(same(got[j], want[j]) for j in want if j != k), f"{k} aliases another key"
        got[k][...] = want[k]


def test_load_reports_the_first_damaged_tensor_in_key_order(tmp_path: Path) -> None:
    """Checksums of large tensors are checked together (on two threads): the error is still
    the first damaged tensor's, as a loop over the keys would raise it."""
    prefix, _ = _many_large(tmp_path)
    items = dict(read_table(Path(str(prefix) + ".index").read_bytes()))
    data_path = Path(str(prefix) + ".data-00000-of-00001")
    data = bytearray(data_path.read_bytes())
    for k in (b"w3", b"w1"):
        data[decode_entry(items[k]).offset + 100] ^= 1
    data_path.write_bytes(bytes(data))
    with pytest.raises(tfc.ChecksumMismatchError) as err:
        tfc.load(prefix)
    assert err.value.key == "w1" and err.value.path is not None


def test_get_slice_rows(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    with tfc.load_checkpoint(prefix) as r:
        for k in ("dense/kernel", "c_mis_big", "b_mis_f64", "emb/i64", "emb/bf16", "names"):
            v = vals[k]
            for verify in (True, False):
                s = r.get_slice(k, verify=verify)
                check_private(v[1:4], s.__getitem__, slice(1, 4))
                if v.ndim > 1:
                    check_private(v[2], s.__getitem__, 2)
                check_private(v[::-2], s.__getitem__, slice(None, None, -2))
        # Every row of a large tensor (a private mapping, not a copy).
        check_private(vals["dense/kernel"], r.get_slice("dense/kernel").__getitem__, slice(None))


def test_mmap_false_copying_reads(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    with tfc.load_checkpoint(prefix, mmap=False) as r:
        for k, v in vals.items():
            check_private(v, r.__getitem__, k)
        check_private(
            vals["dense/kernel"][3:5], r.get_slice("dense/kernel").__getitem__, slice(3, 5)
        )
    for k, arr in tfc.load(prefix, mmap=False).items():
        bump(arr)
        assert not same(arr, vals[k])


def test_writes_are_invisible_to_another_process(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    held = tfc.load(prefix)
    for arr in held.values():
        bump(arr)
    code = textwrap.dedent(
        f"""
        import sys, numpy as np, tfckpt_lite as tfc
        sys.path.insert(0, {str(REPO)!r})
        from tests.test_writable import values
        got = tfc.load({str(prefix)!r})
        want = values()
        from tests.test_writable import same
        bad = [k for k in want if not same(got[k], want[k])]
        sys.exit(f"changed: {{bad}}" if bad else 0)
        """
    )
    run_python(code)
    assert not same(held["dense/kernel"], vals["dense/kernel"])  # still ours, still written


def test_arrays_outlive_the_reader_and_stay_writable(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    with tfc.load_checkpoint(prefix) as r:
        big, small = r["dense/kernel"], r["dense/bias"]
    big += 1
    small += 1
    np.testing.assert_array_equal(big, vals["dense/kernel"] + 1)
    np.testing.assert_array_equal(small, vals["dense/bias"] + 1)


def test_checkpoint_from_checkpoint_values(tmp_path: Path) -> None:
    kernel = np.arange(2 * PRIVATE_MAP_MIN // 4, dtype=np.float32).reshape(-1, 256)
    bias = np.arange(4, dtype=np.float32)
    (tmp_path / "m").mkdir()
    src = tmp_path / "m" / "m"
    tfc.Checkpoint(model={"dense": {"kernel": kernel, "bias": bias}}).write(src)
    before = sha256_of(files_of(src))
    ed = tfc.Checkpoint.from_checkpoint(src)
    tensors = dict(ed.tensors())
    keys = [k for k in tensors if k.startswith("model/")]
    assert len(keys) == 2
    for k in keys:
        arr = tensors[k]
        assert isinstance(arr, np.ndarray)
        arr += 1  # edit in place, then write the edited checkpoint
    ed.write(tmp_path / "edited")
    got = tfc.load(tmp_path / "edited")
    np.testing.assert_array_equal(got["model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"], kernel + 1)
    np.testing.assert_array_equal(got["model/dense/bias/.ATTRIBUTES/VARIABLE_VALUE"], bias + 1)
    tree = tfc.load_tree(src)
    tree["model"]["dense"]["kernel"] -= 1
    assert same(tfc.load_tree(src)["model"]["dense"]["kernel"], kernel)
    assert sha256_of(files_of(src)) == before


# -- other layouts: V1, sharded, partitioned, big-endian, remote ------------------------------


def copy_fixture(name: str, tmp_path: Path) -> Path:
    dst = tmp_path / name
    shutil.copytree(TESTDATA / name, dst)
    return dst


def check_every_tensor(path: Path, files: list[Path]) -> int:
    """Read every readable tensor twice, write into the first, compare; count the tensors."""
    before = sha256_of(files)
    with tfc.load_checkpoint(path) as r:
        want = {}
        for k in r:
            if r.dtype(k) not in ("variant", "resource"):  # no NumPy value
                want[k] = np.array(r[k], copy=True)
        for k, v in want.items():
            check_private(v, r.__getitem__, k)
    assert sha256_of(files) == before
    return len(want)


@pytest.mark.parametrize("name", ["single", "sharded"])
def test_v1_files(name: str, tmp_path: Path) -> None:
    d = copy_fixture("v1_format", tmp_path) / name
    files = sorted(p for p in d.iterdir() if p.is_file())
    targets = [p for p in files if not p.name.endswith((".meta", "checkpoint"))]
    pattern = targets[0] if name == "single" else Path(str(targets[0])[: -len("-00000-of-00002")])
    assert check_every_tensor(pattern, files) > 0


def test_v1_float_slices_are_copies_of_the_table(tmp_path: Path) -> None:
    # Float and double values sit in the table as packed bytes; NumPy would view them
    # read-only (and shared between reads) if the reader did not copy.
    d = copy_fixture("v1_format", tmp_path) / "single"
    (f,) = [p for p in d.iterdir() if p.is_file() and p.name.startswith("model")]
    with tfc.load_checkpoint(f) as r:
        floats = [k for k in r if r.dtype(k) in ("float32", "float64") and r.shape(k)]
        assert floats
        for k in floats:
            check_private(np.array(r[k]), r.__getitem__, k)


@pytest.mark.parametrize("name", ["sharded_policy", "two_shards_v1saver", "partitioned"])
def test_sharded_and_partitioned(name: str, tmp_path: Path) -> None:
    d = copy_fixture(name, tmp_path)
    prefix = next(d.glob("*.index")).with_suffix("")
    assert check_every_tensor(prefix, files_of(prefix)) > 0


def test_partitioned_tensor_written_by_us(tmp_path: Path) -> None:
    emb = np.random.default_rng(1).standard_normal((1024, 512)).astype(np.float32)  # 2 MiB
    with tfc.BundleWriter(tmp_path / "p") as w:
        w.add_slice("emb", emb.shape, "0,600:-", emb[:600])
        w.add_slice("emb", emb.shape, "600,424:-", emb[600:])
    before = sha256_of(files_of(tmp_path / "p"))
    with tfc.load_checkpoint(tmp_path / "p") as r:
        check_private(emb, r.__getitem__, "emb")
        check_private(emb[590:610], r.get_slice("emb").__getitem__, slice(590, 610))
    assert sha256_of(files_of(tmp_path / "p")) == before


def test_big_endian(tmp_path: Path) -> None:
    f32 = np.arange(2 * PRIVATE_MAP_MIN // 4, dtype=np.float32)
    i16 = np.arange(-5, 5, dtype=np.int16)
    data = b""
    items: dict[bytes, bytes] = {}
    for key, v, enum in ((b"f32", f32, 1), (b"i16", i16, 5)):
        raw = v.astype(v.dtype.newbyteorder(">")).tobytes()
        items[key] = encode_entry(
            Entry(enum, v.shape, 0, len(data), len(raw), mask_crc(crc32c(raw)))
        )
        data += raw
    p = tmp_path / "be"
    Path(str(p) + ".data-00000-of-00001").write_bytes(data)
    header = encode_header(BundleHeader(big_endian=True))
    Path(str(p) + ".index").write_bytes(build_table([(b"", header), *sorted(items.items())]))
    before = sha256_of(files_of(p))
    with tfc.load_checkpoint(p) as r:
        check_private(f32, r.__getitem__, "f32")
        check_private(i16, r.__getitem__, "i16")
        check_private(f32[5:9], r.get_slice("f32").__getitem__, slice(5, 9))
    assert sha256_of(files_of(p)) == before


def test_remote_fsspec_memory_filesystem(ckpt: tuple[Path, dict[str, Any]]) -> None:
    fsspec = pytest.importorskip("fsspec")
    prefix, vals = ckpt
    fs = fsspec.filesystem("memory")
    root = f"/i10-{os.getpid()}-{id(ckpt)}"
    try:
        for f in files_of(prefix):
            fs.pipe(f"{root}/{f.name}", f.read_bytes())
        url = f"memory://{root}/c"
        with tfc.load_checkpoint(url) as r:
            for k, v in vals.items():
                check_private(v, r.__getitem__, k)
            rows = r.get_slice("dense/kernel", verify=False)
            check_private(vals["dense/kernel"][1:3], rows.__getitem__, slice(1, 3))
        for name in ("dense/kernel", "emb/i64"):
            check_private(vals[name], tfc.load_variable, url, name)
        loaded = tfc.load(url)  # prefetched in blocks: arrays must not view the blocks
        again = tfc.load(url)
        for k, v in vals.items():
            bump(loaded[k])
            assert same(again[k], v), k
        stored = {f.name: fs.cat_file(f"{root}/{f.name}") for f in files_of(prefix)}
        assert all(stored[f.name] == f.read_bytes() for f in files_of(prefix))
    finally:
        fs.rm(root, recursive=True)


# -- torch: porting scripts, in a subprocess (a write into read-only memory is SIGSEGV) --------


def run_python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode} (negative: killed by signal {-proc.returncode})\n"
        f"{proc.stdout}\n{proc.stderr}"
    )
    return proc


# The conversion loop of transformers 4.x `load_tf_weights_in_bert` (and of the GPT-2, ELECTRA
# and MobileNet converters built the same way): list_variables + load_variable, np.transpose
# of kernels, `pointer.data = torch.from_numpy(array)`; then what any user does next: write
# in place and take an optimizer step.
PORT_SCRIPT = """
import hashlib, sys
from pathlib import Path
import numpy as np, torch
import tfckpt_lite as tfc

prefix, mode = sys.argv[1], sys.argv[2]
files = sorted(p for p in Path(prefix).parent.iterdir() if p.is_file())
digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}

class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.word_embeddings = torch.nn.Embedding(1100, 300)
        self.query = torch.nn.Linear(300, 600)
        self.dense = torch.nn.Linear(600, 8)

    def forward(self, ids):
        return self.dense(torch.tanh(self.query(self.word_embeddings(ids))))

model = Layer()
names, arrays = [], []
if mode == "readonly":
    reader = tfc.load_checkpoint(prefix, readonly=True)
    for name, shape in tfc.list_variables(prefix):
        names.append(name)
        arrays.append(reader.get_tensor(name))
        assert not arrays[-1].flags.writeable, name
else:
    for name, shape in tfc.list_variables(prefix):  # tf.train.list_variables
        names.append(name)
        arrays.append(tfc.load_variable(prefix, name))  # tf.train.load_variable
        assert arrays[-1].flags.writeable, name
stored = {n: np.array(a, copy=True) for n, a in zip(names, arrays)}
for name, array in zip(names, arrays):
    m_name = name.split("/")[-1]
    if m_name == "word_embeddings":
        pointer = model.word_embeddings.weight
    else:
        layer = getattr(model, name.split("/")[-2])
        pointer = getattr(layer, "weight" if m_name == "kernel" else "bias")
    if m_name == "kernel":
        array = np.transpose(array)
    assert tuple(pointer.shape) == array.shape, (name, pointer.shape, array.shape)
    pointer.data = torch.from_numpy(array)

with torch.no_grad():
    model.query.bias.add_(1.0)  # the first in-place write: SIGSEGV on read-only mappings
    model.dense.weight.mul_(0.5)
before = {n: p.detach().clone() for n, p in model.named_parameters()}
opt = torch.optim.SGD(model.parameters(), lr=0.1)
loss = model(torch.tensor([0, 5, 1099])).pow(2).sum()
loss.backward()
opt.step()
for n, p in model.named_parameters():
    want = before[n] - 0.1 * p.grad
    err = (p.detach() - want).abs().max().item()
    assert torch.allclose(p.detach(), want, rtol=1e-5, atol=1e-5), (n, err)
    assert not torch.equal(p.detach(), before[n]), n + " did not change"
assert torch.equal(before["query.bias"], torch.from_numpy(stored["l/query/bias"]) + 1.0)

# Nothing reached the file, another read, or (readonly) the shared mapping of a new reader.
assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == digest
for name, want in stored.items():
    assert np.array_equal(tfc.load_variable(prefix, name), want), name
with tfc.load_checkpoint(prefix, readonly=True) as r:
    for name, want in stored.items():
        assert np.array_equal(r[name], want), name
print("ok")
"""


@pytest.fixture
def port_ckpt(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    tfc.save(
        tmp_path / "bert",
        {
            # 1.3 MiB and 0.7 MiB: one private mapping, one copy.
            "l/word_embeddings": rng.standard_normal((1100, 300)).astype(np.float32),
            "l/query/kernel": rng.standard_normal((300, 600)).astype(np.float32),
            "l/query/bias": rng.standard_normal(600).astype(np.float32),
            "l/dense/kernel": rng.standard_normal((600, 8)).astype(np.float32),
            "l/dense/bias": rng.standard_normal(8).astype(np.float32),
        },
    )
    return tmp_path / "bert"


@pytest.mark.parametrize("mode", ["default", "readonly"])
def test_porting_script_with_torch_sgd(port_ckpt: Path, mode: str) -> None:
    pytest.importorskip("torch")
    proc = run_python(PORT_SCRIPT, str(port_ckpt), mode)
    assert proc.stdout.strip().endswith("ok")


def test_issue_reproduction_torch_add_(ckpt: tuple[Path, dict[str, Any]]) -> None:
    pytest.importorskip("torch")
    prefix, _ = ckpt
    code = textwrap.dedent(
        f"""
        import numpy as np, torch, tfckpt_lite as tfc
        for key in ("dense/kernel", "dense/bias", "c_mis_big", "b_mis_f64", "emb/i64"):
            t = torch.from_numpy(tfc.load_variable({str(prefix)!r}, key))
            t.add_(1)
        with tfc.load_checkpoint({str(prefix)!r}, mmap=False) as r:
            torch.from_numpy(r["dense/kernel"]).add_(1.0)
        """
    )
    run_python(code)


def test_to_torch_tensors(ckpt: tuple[Path, dict[str, Any]]) -> None:
    torch = pytest.importorskip("torch")
    prefix, vals = ckpt
    sd = tfc.to_torch(prefix, transpose="auto")
    sd2 = tfc.to_torch(prefix, transpose="auto")
    k = sd["dense/kernel"]
    k.add_(1.0)
    np.testing.assert_array_equal(k.numpy(), vals["dense/kernel"].T + 1)
    np.testing.assert_array_equal(sd2["dense/kernel"].numpy(), vals["dense/kernel"].T)
    for t in sd.values():
        if t.dtype in (torch.float32, torch.float64, torch.int64):
            t.mul_(2)
    with tfc.load_checkpoint(prefix, readonly=True) as r:
        ro = tfc.to_torch(r)
        ro["dense/kernel"].add_(1.0)  # copied from the shared mapping: ours to write
        assert ro["dense/kernel"].numpy().tobytes() != r["dense/kernel"].tobytes()
        assert same(r["dense/kernel"], vals["dense/kernel"])


# -- readonly=True: the opt-in zero-copy mode -------------------------------------------------


def test_readonly_arrays_say_so(ckpt: tuple[Path, dict[str, Any]]) -> None:
    prefix, vals = ckpt
    with tfc.load_checkpoint(prefix, readonly=True) as r:
        for k, v in vals.items():
            a = r[k]
            assert same(a, v) and not a.flags.writeable, k
            with pytest.raises(ValueError, match="read-only"):
                a[...] = a
            if np.ndim(v):
                rows = r.get_slice(k)[1:]
                assert not rows.flags.writeable, k
        # Zero-copy: two reads of an aligned tensor share one mapping.
        assert np.shares_memory(r["dense/kernel"], r["dense/kernel"])
    for k, a in tfc.load(prefix, readonly=True).items():
        assert not a.flags.writeable, k
    for k, a in tfc.load(prefix, readonly=True, mmap=False).items():
        assert not a.flags.writeable, k
    d = copy_fixture("v1_format", prefix.parent.parent) / "single"
    (f,) = [p for p in d.iterdir() if p.is_file() and p.name.startswith("model")]
    with tfc.load_checkpoint(f, readonly=True) as r:
        assert all(not r[k].flags.writeable for k in r)


def test_readonly_write_through_torch_neither_crashes_nor_reaches_the_file(
    ckpt: tuple[Path, dict[str, Any]],
) -> None:
    pytest.importorskip("torch")
    prefix, _ = ckpt
    code = textwrap.dedent(
        f"""
        import warnings, numpy as np, torch, tfckpt_lite as tfc
        warnings.simplefilter("ignore")  # torch warns that the array is not writable
        r = tfc.load_checkpoint({str(prefix)!r}, readonly=True)
        for key in ("dense/kernel", "dense/bias", "emb/i64"):
            a = r[key]
            assert not a.flags.writeable
            torch.from_numpy(a).add_(1)  # the user overrode the flag: must not crash
            assert np.array_equal(tfc.load_variable({str(prefix)!r}, key) + 1, a), key
        print("ok")
        """
    )
    assert run_python(code).stdout.strip() == "ok"


def test_private_mappings_fall_back_to_copies(
    ckpt: tuple[Path, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the system refuses a mapping (ENOMEM past vm.max_map_count), reads copy."""
    prefix, vals = ckpt
    real = mmap.mmap

    def refuse(*args: Any, **kwargs: Any) -> mmap.mmap:
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.setattr(mmap, "mmap", refuse)
    with tfc.load_checkpoint(prefix) as r:
        for k, v in vals.items():
            check_private(v, r.__getitem__, k)
        check_private(
            vals["dense/kernel"][4:6], r.get_slice("dense/kernel").__getitem__, slice(4, 6)
        )
    with tfc.load_checkpoint(prefix, readonly=True) as r:
        for k, v in vals.items():
            assert same(r[k], v) and not r[k].flags.writeable, k
    monkeypatch.setattr(mmap, "mmap", real)


# -- the oracle: TensorFlow's arrays are writable and private too ------------------------------


@pytest.mark.tf
def test_tf_returns_writable_private_arrays_like_ours(ckpt: tuple[Path, dict[str, Any]]) -> None:
    """The contract is TF's: tf.train.load_variable / get_tensor give arrays a caller may
    write, independent between calls. Checked live, in a subprocess (TF's import is heavy)."""
    pytest.importorskip("tensorflow")
    prefix, _ = ckpt
    code = textwrap.dedent(
        f"""
        import numpy as np, tensorflow as tf, tfckpt_lite as tfc
        p = {str(prefix)!r}
        tf_reader, ours = tf.train.load_checkpoint(p), tfc.load_checkpoint(p)
        for key in ("dense/kernel", "dense/bias", "c_mis_big", "b_mis_f64", "emb/i64"):
            for get in (tf_reader.get_tensor, ours.get_tensor,
                        lambda k: tf.train.load_variable(p, k),
                        lambda k: tfc.load_variable(p, k)):
                a, b = get(key), get(key)
                assert a.flags.writeable, key
                a += 1
                assert not np.shares_memory(a, b) and np.array_equal(b + 1, a), key
            assert np.array_equal(tf_reader.get_tensor(key), ours.get_tensor(key)), key
        print("ok")
        """
    )
    assert run_python(code).stdout.strip().endswith("ok")
