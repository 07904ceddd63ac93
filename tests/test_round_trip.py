"""Writing with `save` and `BundleWriter` and reading back: every dtype and shape, Python values
converted as TF converts them, partitioned variables (`add_slice`), values at unaligned offsets,
non-UTF-8 keys, and the atomic writer (no partial files, the previous checkpoint kept).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._bundle import decode_entry
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._table import read_table

from ._bundle_files import files_of
from ._tfutil import ALL_DTYPES, FIXED_DTYPES, STRING_SAMPLES, random_array, same_array

# -- dtypes, shapes, values --------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_DTYPES)
def test_every_dtype_round_trips(tmp_path: Path, name: str) -> None:
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    shapes = [(), (0,), (7,), (3, 0, 2), (2, 3, 4), (1, 1, 1, 1, 1, 1, 1, 2)]
    values = {f"{name}/{i}": random_array(name, s, rng) for i, s in enumerate(shapes)}
    tfc.save(tmp_path / "c", values)
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == sorted(values)
        for k, v in values.items():
            assert r.dtype(k) == name
            assert r.shape(k) == v.shape
            got = r[k]
            assert same_array(got, v), k
            if name != "string":
                assert got.dtype == np.dtype(FIXED_DTYPES[name])
        assert r.verify() == len(values)
    # the data file is the tensors' little-endian bytes back to back (strings aside)
    if name != "string":
        data = files_of(tmp_path / "c")[1]
        assert data == b"".join(
            v.astype(v.dtype.newbyteorder("<")).tobytes() for v in values.values()
        )


def test_strings_keep_nuls_and_binary(tmp_path: Path) -> None:
    vals = np.empty(len(STRING_SAMPLES), dtype=object)
    vals[:] = STRING_SAMPLES
    tfc.save(tmp_path / "c", {"s": vals, "m": vals.reshape(2, 4)})
    r = tfc.load_checkpoint(tmp_path / "c")
    assert r["s"].dtype == object
    assert r["s"].tolist() == STRING_SAMPLES
    assert r["m"].tolist() == vals.reshape(2, 4).tolist()
    assert r.dtype("s") == "string"


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(ALL_DTYPES),
    st.lists(st.integers(0, 4), max_size=6).map(tuple),
    st.integers(0, 2**32 - 1),
)
def test_round_trip_property(name: str, shape: tuple[int, ...], seed: int) -> None:
    import tempfile

    value = random_array(name, shape, np.random.default_rng(seed))
    with tempfile.TemporaryDirectory() as d:
        tfc.save(os.path.join(d, "c"), {"x": value, "y/z": value}, fsync=False)
        got = tfc.load(d)
        assert same_array(got["x"], value) and same_array(got["y/z"], value)


def test_high_rank_and_non_contiguous_inputs(tmp_path: Path) -> None:
    hi = np.arange(2**10, dtype=np.int16).reshape((2,) * 10)
    nc = np.arange(24, dtype=np.float64).reshape(4, 6)[:, ::2]  # not C-contiguous
    fortran = np.asfortranarray(np.arange(12, dtype=np.int32).reshape(3, 4))
    be = np.arange(5, dtype=">i4")
    tfc.save(tmp_path / "c", {"hi": hi, "nc": nc, "f": fortran, "be": be})
    r = tfc.load_checkpoint(tmp_path / "c")
    assert np.array_equal(r["hi"], hi) and r.shape("hi") == (2,) * 10
    assert np.array_equal(r["nc"], nc)
    assert np.array_equal(r["f"], fortran)
    assert r["be"].dtype == np.dtype("<i4") and r["be"].tolist() == list(range(5))


def test_python_values_convert_like_tf(tmp_path: Path) -> None:
    tfc.save(
        tmp_path / "c",
        {
            "i": 7,
            "big": 2**40,
            "f": 1.5,
            "t": True,
            "b": b"x\x00",
            "u": "ü",
            "lf": [1.0, 2.0],
            "li": [[1, 2], [3, 4]],
            "ls": [b"a", "b"],
            "np64": np.float64(2.5),
        },
    )
    r = tfc.load_checkpoint(tmp_path / "c")
    dt = {k: r.dtype(k) for k in r}
    assert dt == {
        "i": "int32",
        "big": "int64",
        "f": "float32",
        "t": "bool",
        "b": "string",
        "u": "string",
        "lf": "float32",
        "li": "int32",
        "ls": "string",
        "np64": "float64",
    }
    assert r["b"].item() == b"x\x00" and r["u"].item() == "ü".encode()
    assert r["ls"].tolist() == [b"a", b"b"] and r.shape("li") == (2, 2)


def test_unsupported_values_are_type_errors(tmp_path: Path) -> None:
    with tfc.BundleWriter(tmp_path / "c") as w:
        with pytest.raises(TypeError):
            w.add("t", np.array(["2020-01-01"], dtype="datetime64[D]"))
        with pytest.raises(TypeError):
            w.add("o", np.array([1, 2], dtype=object))
        with pytest.raises(TypeError):
            w.add(5, 1)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="int64"):
            w.add("huge", 2**63)  # TF: ValueError too
        with pytest.raises(ValueError, match="int64"):
            w.add("tiny", -(2**63) - 1)
        w.add("ok", 1)
    assert list(tfc.load_checkpoint(tmp_path / "c")) == ["ok"]


def test_misaligned_tensors_read_correctly(tmp_path: Path) -> None:
    # Tensors are packed with no padding (FORMAT 5.1), so after a 1-byte tensor every wider
    # dtype sits at an odd offset; values must still come out right (and aligned).
    rng = np.random.default_rng(1)
    values: dict[str, Any] = {"a_byte": np.uint8(1)}
    for name in ("float64", "complex128", "int32", "bfloat16", "float16", "uint64"):
        values[name] = random_array(name, (5, 3), rng)
        values[name + "_pad"] = np.uint8(7)
    tfc.save(tmp_path / "c", values)
    with tfc.load_checkpoint(tmp_path / "c") as r:
        for k, v in values.items():
            got = r[k]
            assert same_array(got, v), k
            assert got.flags.aligned, k
            if np.ndim(v):
                assert same_array(r.get_slice(k)[1:4], v[1:4]), k
                assert same_array(r.get_slice(k)[-1], v[-1]), k


def test_non_utf8_keys_round_trip(tmp_path: Path) -> None:
    # Keys are bytes on disk; a key that is not UTF-8 comes back surrogate-escaped, and that
    # str writes the very same bytes again.
    key = b"bad\xff\xfekey".decode("utf-8", "surrogateescape")
    tfc.save(tmp_path / "c", {key: 1, "ok": 2})
    index = read_table(Path(str(tmp_path / "c") + ".index").read_bytes())
    assert b"bad\xff\xfekey" in dict(index)
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == [key, "ok"]  # bytewise order: b"b..." < b"o..."
        assert r[key] == 1


# -- partitioned variables ---------------------------------------------------------------------


def test_add_slice_round_trip(tmp_path: Path) -> None:
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    strings = np.array([b"s%d" % i for i in range(6)], dtype=object)
    with tfc.BundleWriter(tmp_path / "c") as w:
        w.add("plain", 1)
        w.add_slice("emb", (10, 4), "0,3:-", full[0:3])
        w.add_slice("emb", (10, 4), [(3, 5), None], full[3:8])
        w.add_slice("emb", (10, 4), (slice(8, 10), slice(None)), full[8:10])
        w.add_slice("grid", (4, 4), "0,2:0,2", full[:2, :2] * 0 + 1)
        w.add_slice("grid", (4, 4), "0,2:2,2", full[:2, :2] * 0 + 2)
        w.add_slice("grid", (4, 4), "2,2:0,4", full[:2, :4] * 0 + 3)
        w.add_slice("str", (6,), "0,4", strings[:4])
        w.add_slice("str", (6,), "4,2", strings[4:])
        w.add_slice("whole", (3,), "-", np.ones(3, np.int8))  # a full slice is a plain add
    index = read_table(Path(str(tmp_path / "c") + ".index").read_bytes())
    keys = [k for k, _ in index]
    assert encode_slice_key(b"emb", [(0, 3), (0, -1)]) in keys
    assert encode_slice_key(b"grid", [(2, 2), (0, 4)]) in keys
    assert not any(k.startswith(b"\x00whole") for k in keys)
    full_entry = decode_entry(dict(index)[b"emb"])
    # "-" and None are full extents; a slice object is written out as start,length (as TF's
    # Python SaveSliceInfo.spec does)
    assert full_entry.slices == [[(0, 3), (0, -1)], [(3, 5), (0, -1)], [(8, 2), (0, 4)]]
    assert (full_entry.offset, full_entry.size, full_entry.crc32c) == (0, 0, 0)

    r = tfc.load_checkpoint(tmp_path / "c")
    assert list(r) == ["emb", "grid", "plain", "str", "whole"]  # slice keys are not listed
    assert np.array_equal(r["emb"], full)
    assert r.shape("emb") == (10, 4) and r.dtype("emb") == "float32"
    assert r["grid"].tolist() == [[1, 1, 2, 2]] * 2 + [[3] * 4] * 2
    assert r["str"].tolist() == strings.tolist()
    assert r["whole"].dtype == np.int8
    assert np.array_equal(r.get_slice("emb")[2:9:3], full[2:9:3])
    assert r.verify() == 5


def test_add_slice_errors(tmp_path: Path) -> None:
    with tfc.BundleWriter(tmp_path / "c") as w:
        w.add_slice("p", (4,), "0,2", np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="overlap"):
            w.add_slice("p", (4,), "1,2", np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="does not match"):
            w.add_slice("p", (4,), "2,2", np.zeros(3, np.float32))
        with pytest.raises(ValueError, match="disagree"):
            w.add_slice("p", (4,), "2,2", np.zeros(2, np.int32))
        with pytest.raises(ValueError, match="does not fit"):
            w.add_slice("p", (4,), "3,2", np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="step 1"):
            w.add_slice("p", (4,), [slice(0, 4, 2)], np.zeros(2, np.float32))
        with pytest.raises(TypeError):
            w.add_slice("p", (4,), 3, np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="dims"):
            w.add_slice("p", (4,), "0,1:0,1", np.zeros((1, 1), np.float32))
        with pytest.raises(ValueError, match="duplicate"):
            w.add("p", np.zeros(4, np.float32))
        w.add("q", 1)
        with pytest.raises(ValueError, match="duplicate"):
            w.add_slice("q", (4,), "0,2", np.zeros(2, np.float32))
    # only half of "p" was written: reading it whole must fail loudly, not return garbage
    r = tfc.load_checkpoint(tmp_path / "c")
    with pytest.raises(tfc.CorruptCheckpointError, match="sufficient slices"):
        r["p"]
    with pytest.raises(tfc.CorruptCheckpointError):
        r.verify()


# -- the atomic writer -------------------------------------------------------------------------


def test_exception_inside_writer_leaves_no_files(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), tfc.BundleWriter(tmp_path / "c") as w:
        w.add("a", np.zeros(1000))
        raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_previous_checkpoint(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {"v": 1})
    before = files_of(tmp_path / "c")
    with pytest.raises(TypeError):
        tfc.save(tmp_path / "c", {"v": 2, "bad": object()})
    assert files_of(tmp_path / "c") == before
    assert sorted(os.listdir(tmp_path)) == ["c.data-00000-of-00001", "c.index"]
    tfc.save(tmp_path / "c", {"v": 3, "w": 4})  # overwriting works
    assert tfc.load(tmp_path / "c") == {"v": 3, "w": 4}
    assert sorted(os.listdir(tmp_path)) == ["c.data-00000-of-00001", "c.index"]


def test_writer_misuse(tmp_path: Path) -> None:
    w = tfc.BundleWriter(tmp_path / "sub" / "dir" / "c", fsync=False)
    assert (tmp_path / "sub" / "dir").is_dir()
    temps = os.listdir(tmp_path / "sub" / "dir")
    assert len(temps) == 1 and ".tempstate" in temps[0]  # nothing that looks like a checkpoint
    w.add("x", 1)
    with pytest.raises(ValueError, match="duplicate"):
        w.add("x", 2)
    with pytest.raises(ValueError, match="reserved"):
        w.add("", 1)
    with pytest.raises(ValueError, match="reserved"):
        w.add("\x00sneaky", 1)
    assert w.finish() == str(tmp_path / "sub" / "dir" / "c")
    assert w.finish() == str(tmp_path / "sub" / "dir" / "c")  # idempotent
    with pytest.raises(ValueError, match="finished"):
        w.add("y", 1)
    assert sorted(os.listdir(tmp_path / "sub" / "dir")) == ["c.data-00000-of-00001", "c.index"]
    with pytest.raises(ValueError, match="directory"):
        tfc.BundleWriter(str(tmp_path) + "/")
    a = tfc.BundleWriter(tmp_path / "ab")
    a.abort()
    assert not any(n.startswith("ab") for n in os.listdir(tmp_path))
