"""The public reader: the CheckpointReader API (TF's names), `get_slice`, the path forms
`load_checkpoint` accepts, files that are not checkpoints, and copying reads (`mmap=False`).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc

from ._tfutil import same_array
from .conftest import budget

# -- reader API --------------------------------------------------------------------------------


def test_reader_api(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {"z": 1, "a/b": np.zeros((2, 3), np.float16), "m": [b"x"]})
    r = tfc.load_checkpoint(str(tmp_path / "c"))
    assert list(r.keys()) == ["a/b", "m", "z"] and len(r) == 3
    assert "z" in r and "nope" not in r and r.has_tensor("m") and not r.has_tensor("q")
    assert r.get_variable_to_shape_map() == {"a/b": [2, 3], "m": [1], "z": []}
    dmap = r.get_variable_to_dtype_map()
    assert {k: v.name for k, v in dmap.items()} == {"a/b": "float16", "m": "string", "z": "int32"}
    assert dmap["a/b"].as_numpy_dtype is np.float16
    assert r.get_tensor("z") == 1 and r.get_tensor("z", verify=False) == 1
    assert r.prefix == str(tmp_path / "c") and r.format == "v2"
    assert dict(r.items()).keys() == {"a/b", "m", "z"}
    loaded = tfc.load(tmp_path / "c")
    assert set(loaded) == {"a/b", "m", "z"}
    assert tfc.list_variables(tmp_path / "c") == [("a/b", [2, 3]), ("m", [1]), ("z", [])]
    assert tfc.load_variable(tmp_path / "c", "z:0") == 1
    with pytest.raises(tfc.TensorNotFoundError) as ei:
        r["nope"]
    assert isinstance(ei.value, KeyError) and isinstance(ei.value, tfc.CheckpointError)
    assert "nope" in str(ei.value) and "c.index" in str(ei.value)
    with pytest.raises(KeyError):
        r.shape("nope")
    assert r.get("nope") is None  # Mapping.get relies on KeyError
    r.close()


def test_returned_arrays_outlive_the_reader(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {"x": np.arange(1000, dtype=np.float64)})
    with tfc.load_checkpoint(tmp_path / "c") as r:
        x = r["x"]
    assert x.sum() == 999 * 1000 / 2  # still valid after close()
    x += 1  # writable and the caller's own (tests/test_writable.py covers every read path)
    assert x.sum() == 999 * 1000 / 2 + 1000
    with tfc.load_checkpoint(tmp_path / "c", readonly=True) as r:
        y = r["x"]
    assert not y.flags.writeable and y.sum() == 999 * 1000 / 2  # the opt-in shared view


# -- get_slice ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sliceable(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[tfc.CheckpointReader, dict[str, Any]]]:
    d = tmp_path_factory.mktemp("slice")
    rng = np.random.default_rng(3)
    vals = {
        "f": rng.standard_normal((13, 3)).astype(np.float32),
        "i": np.arange(9, dtype=np.int64),
        "b16": rng.standard_normal((5, 2, 2)).astype(ml_dtypes.bfloat16),
        "s": np.array([b"r%d" % i for i in range(7)], dtype=object),
        "e": np.zeros((0, 4), np.float32),
        "scalar": np.float64(3.0),
    }
    tfc.save(d / "c", vals)
    with tfc.load_checkpoint(d / "c") as r:
        yield r, vals


@settings(max_examples=budget(150, 40), deadline=None)
@given(st.data())
def test_get_slice_equals_full_indexing(
    sliceable: tuple[tfc.CheckpointReader, dict[str, Any]], data: st.DataObject
) -> None:
    r, vals = sliceable
    key = data.draw(st.sampled_from(["f", "i", "b16", "s", "e"]))
    full = vals[key]
    n = full.shape[0]
    first = data.draw(
        st.slices(max(n, 1)) | (st.integers(-n, n - 1) if n else st.just(slice(None)))
    )
    index: Any = first
    if full.ndim > 1 and data.draw(st.booleans()):
        index = (first, data.draw(st.slices(full.shape[1]) | st.integers(0, full.shape[1] - 1)))
    got = r.get_slice(key)[index]
    want = full[index]
    assert same_array(got, want), (key, index)


def test_get_slice_edge_cases(sliceable: tuple[tfc.CheckpointReader, dict[str, Any]]) -> None:
    r, vals = sliceable
    s = r.get_slice("f")
    assert len(s) == 13 and s.shape == (13, 3) and s.dtype == "float32"
    assert np.array_equal(s[::-1], vals["f"][::-1])
    assert np.array_equal(s[-1], vals["f"][-1])
    assert np.array_equal(s[10:2:-3, 1], vals["f"][10:2:-3, 1])
    assert np.array_equal(s[...], vals["f"])
    assert np.array_equal(s[[0, 5]], vals["f"][[0, 5]])  # fancy index: falls back to a full read
    assert s[5:5].shape == (0, 3)
    with pytest.raises(IndexError):
        s[13]
    with pytest.raises(IndexError):
        s[-14]
    assert np.array_equal(s[True], vals["f"][True])  # a bool is not row 1
    sc = r.get_slice("scalar")
    assert sc[()] == 3.0
    with pytest.raises(TypeError):
        len(sc)


def test_get_slice_verifies_the_whole_tensor_once(tmp_path: Path) -> None:
    w = np.arange(400, dtype=np.float32).reshape(100, 4)
    tfc.save(tmp_path / "c", {"w": w})
    r = tfc.load_checkpoint(tmp_path / "c")
    reads: list[str] = []
    real_read = r._backend.read

    def counting_read(key: str, *, verify: bool = True) -> Any:
        reads.append(key)
        return real_read(key, verify=verify)

    r._backend.read = counting_read  # type: ignore[method-assign]
    s = r.get_slice("w")
    assert np.array_equal(s[3:5], w[3:5]) and np.array_equal(s[-1], w[-1])
    assert np.array_equal(r.get_slice("w")[7], w[7])
    assert reads == ["w"]  # one checksum pass per reader, not one per indexing
    r.close()

    # Damage row 90 only. The verified handle refuses rows 0-1 too: the CRC covers the whole
    # tensor, so nothing in it can be vouched for; the opted-out handle reads just the rows.
    data = tmp_path / "c.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[90 * 16] ^= 0x40
    data.write_bytes(bytes(raw))
    with tfc.load_checkpoint(tmp_path / "c") as r:
        with pytest.raises(tfc.ChecksumMismatchError) as exc:
            r.get_slice("w")[0:2]
        assert exc.value.key == "w" and str(exc.value.path).endswith(".data-00000-of-00001")
        with pytest.raises(tfc.ChecksumMismatchError):  # and not cached as verified
            r.get_slice("w")[5]
        assert np.array_equal(r.get_slice("w", verify=False)[0:2], w[0:2])
        assert not np.array_equal(r.get_slice("w", verify=False)[90], w[90])


# -- path forms --------------------------------------------------------------------------------


@pytest.fixture
def ckpt_dir(tmp_path: Path) -> Path:
    tfc.save(tmp_path / "run" / "ckpt-1", {"v": 1})
    tfc.save(tmp_path / "run" / "ckpt-2", {"v": 2})
    (tmp_path / "run" / "checkpoint").write_text(
        'model_checkpoint_path: "ckpt-2"\nall_model_checkpoint_paths: "ckpt-1"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
    )
    tfc.save(tmp_path / "sm" / "variables" / "variables", {"v": 3})
    (tmp_path / "sm" / "saved_model.pb").write_bytes(b"")
    tfc.save(tmp_path / "single" / "only", {"v": 4})
    return tmp_path


@pytest.mark.parametrize(
    ("rel", "value"),
    [
        ("run/ckpt-1", 1),
        ("run/ckpt-1.index", 1),
        ("run/ckpt-1.data-00000-of-00001", 1),
        ("run", 2),
        ("run/", 2),
        ("sm", 3),
        ("sm/variables/variables", 3),
        ("single", 4),
    ],
)
def test_path_forms(ckpt_dir: Path, rel: str, value: int) -> None:
    for form in (str(ckpt_dir / rel) + ("/" if rel.endswith("/") else ""), ckpt_dir / rel):
        with tfc.load_checkpoint(form) as r:
            assert r["v"] == value
    assert tfc.latest_checkpoint(ckpt_dir / "run") == str(ckpt_dir / "run" / "ckpt-2")


def test_not_a_checkpoint_errors(tmp_path: Path) -> None:
    pt = tmp_path / "model.pt"
    with zipfile.ZipFile(pt, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(tfc.NotACheckpointError, match="PyTorch") as ei:
        tfc.load_checkpoint(pt)
    assert "model.pt" in str(ei.value) and isinstance(ei.value, tfc.CheckpointError)
    h5 = tmp_path / "w.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(tfc.NotACheckpointError, match="HDF5"):
        tfc.load_checkpoint(h5)
    with pytest.raises(tfc.CheckpointNotFoundError) as nf:
        tfc.load_checkpoint(tmp_path / "missing" / "ckpt")
    assert isinstance(nf.value, FileNotFoundError) and "missing" in str(nf.value)
    with pytest.raises(FileNotFoundError):
        tfc.load_checkpoint(tmp_path / "nothing.index")
    empty = tmp_path / "emptydir"
    empty.mkdir()
    with pytest.raises(tfc.CheckpointNotFoundError, match=r"no '\.index'"):
        tfc.load_checkpoint(empty)
    # TF's per-shard bundles of an unfinished save are debris; look-alike user paths are not
    tfc.save(tmp_path / "ck-1_temp" / "part-00000-of-00001", {"v": 1})
    with pytest.raises(tfc.NotACheckpointError, match="temporary"):
        tfc.load_checkpoint(tmp_path / "ck-1_temp" / "part-00000-of-00001")
    tfc.save(tmp_path / "run_temp" / "partition" / "ckpt", {"v": 2})
    assert tfc.load(tmp_path / "run_temp" / "partition" / "ckpt") == {"v": 2}
    tmpfile = tmp_path / "x.index.tempstate12345"
    tmpfile.write_bytes(b"")
    with pytest.raises(tfc.NotACheckpointError, match="temporary"):
        tfc.load_checkpoint(tmpfile)


# -- mmap=False: copying reads -----------------------------------------------------------------


def _fixture_prefixes() -> list[Path]:
    root = Path(__file__).resolve().parent.parent / "testdata"
    return sorted(p.with_suffix("") for p in root.rglob("*.index"))


@pytest.mark.parametrize("prefix", _fixture_prefixes(), ids=lambda p: p.parent.name + "/" + p.name)
def test_copying_reads_equal_mapped_reads(prefix: Path) -> None:
    with tfc.load_checkpoint(prefix) as mapped, tfc.load_checkpoint(prefix, mmap=False) as copied:
        assert list(mapped) == list(copied)
        for key in mapped:
            try:
                want = mapped[key]
            except tfc.UnsupportedCheckpointError:
                with pytest.raises(tfc.UnsupportedCheckpointError):
                    copied[key]
                continue
            got = copied[key]
            assert same_array(got, want), key
        assert copied.verify() == mapped.verify()


def test_copying_reads_survive_in_place_truncation(tmp_path: Path) -> None:
    a = np.arange(1000, dtype=np.float64)
    b = np.arange(1000, dtype=np.int32)
    tfc.save(tmp_path / "c", {"a": a, "b": b})  # "a" first in the data file
    data = tmp_path / "c.data-00000-of-00001"
    with tfc.load_checkpoint(tmp_path / "c", mmap=False) as r:
        got_a = r["a"]
        rows = r.get_slice("a")[10:20]
        with open(data, "r+b") as f:  # what `cp` over a checkpoint being read does
            f.truncate(a.nbytes // 2)
        # Arrays already returned own their memory: still intact, no SIGBUS.
        assert np.array_equal(got_a, a) and np.array_equal(rows, a[10:20])
        with pytest.raises(tfc.CorruptCheckpointError, match="shrank") as exc:
            r["b"]
        assert exc.value.key == "b" and exc.value.path == str(data)
