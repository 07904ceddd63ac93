"""Reader and writer behaviour without TensorFlow: golden bytes, every dtype, partitioned and
multi-shard bundles, big-endian and Snappy-compressed bundles crafted by hand per FORMAT.md,
path forms, errors and the atomic writer.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._bundle import Entry, decode_entry, decode_header, encode_entry, encode_header
from tfckpt_lite._bundle import Header as BundleHeader
from tfckpt_lite._coding import crc32c, decode_varint, encode_varint, mask_crc
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._table import FOOTER_SIZE, build_table, read_table

from ._tfutil import ALL_DTYPES, FIXED_DTYPES, STRING_SAMPLES, random_array, same_array

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"

# -- FORMAT.md §3.11: TF 2.21 SaveV2 output ---------------------------------------------------

FORMAT_INDEX = bytes.fromhex(
    "00000608011a02080100010d62080312002018280435a78d9d88000111640802120412020801203628083584"
    "6135f800010f650807120212002028280435f6c10c64000111730807120412020803201c280c3510adc43f01"
    "090d63616c61725f73747208071200202c280a35ece0c02900011377080112081202080212020803281835c0"
    "db3d170000000001000000002e80f65e000000000100000000c0f2a1b000010378008f010000000001000000"
    "002cee964a940108a1010f000000000000000000000000000000000000000000000000000000000000000000"
    "0057fb808b247547db"
)
FORMAT_DATA = bytes.fromhex(
    "000000000000803f0000004000004040000080400000a040"  # w
    "07000000"  # b
    "0200031b428bca616278797a"  # s
    "d8ea82a2"  # e
    "05d9c69c4368656c6c6f"  # scalar_str
    "000000000000f83f"  # d
)


def format_tensors() -> dict[str, Any]:
    return {
        "w": np.arange(6, dtype=np.float32).reshape(2, 3),
        "b": 7,
        "s": [b"ab", b"", b"xyz"],
        "e": np.array([], dtype=object),
        "scalar_str": b"hello",
        "d": np.array([1.5]),
    }


def files_of(prefix: Path | str) -> tuple[bytes, bytes]:
    p = str(prefix)
    return Path(p + ".index").read_bytes(), Path(p + ".data-00000-of-00001").read_bytes()


def test_save_matches_format_golden_bytes(tmp_path: Path) -> None:
    assert len(FORMAT_INDEX) == 229 and len(FORMAT_DATA) == 62
    # the documented pieces of FORMAT §3.11 appear where the document says
    assert FORMAT_INDEX[0x70:0x87] == bytes.fromhex(
        "00011377080112081202080212020803281835c0db3d17"
    )
    assert FORMAT_INDEX[0xA1:0xA8] == bytes.fromhex("00010378008f01")
    prefix = tfc.save(tmp_path / "ckpt", format_tensors())
    assert prefix == str(tmp_path / "ckpt")
    assert files_of(prefix) == (FORMAT_INDEX, FORMAT_DATA)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.data-00000-of-00001", "ckpt.index"]


def test_save_matches_tf_written_example_fixture(tmp_path: Path) -> None:
    fixture = TESTDATA / "savev2_example" / "ckpt"
    if not Path(str(fixture) + ".index").exists():
        pytest.skip("testdata/savev2_example not present")
    tfc.save(tmp_path / "ckpt", format_tensors())
    assert files_of(tmp_path / "ckpt") == files_of(fixture)
    assert files_of(fixture) == (FORMAT_INDEX, FORMAT_DATA)


def _resave(prefix: str, out: Path) -> str | None:
    """Re-save a single-shard bundle's tensors in data-file order; None if it can't apply."""
    from tfckpt_lite._reader import BundleReader
    from tfckpt_lite._storage import LocalFileSystem

    r = BundleReader(prefix, LocalFileSystem())
    try:
        if r.header.num_shards != 1 or r.header.big_endian or r._slice_raw:
            return "multi-shard, big-endian or partitioned"
        order = []
        for k in r.keys():  # noqa: SIM118 (BundleReader is not a dict)
            e = r.entry(k)
            if e.dtype_info.name.startswith("q") or e.dtype_info.numpy_dtype is None:
                return f"dtype {e.dtype_info.name} has no NumPy type of its own"
            order.append((e.offset, k))
        order.sort()
        tfc.save(out, {k: r.read(k) for _, k in order}, fsync=False)
        return None
    finally:
        r.close()


def _snappy_blocks(index: bytes) -> bool:
    return any(index[o + s] == 1 for _, (o, s) in _block_handles(index))


def _block_handles(index: bytes) -> list[tuple[bytes, tuple[int, int]]]:
    from tfckpt_lite._block import decode_block

    f = index[-FOOTER_SIZE:]
    _, p = decode_varint(f, 0, 40)
    _, p = decode_varint(f, p, 40)
    off, p = decode_varint(f, p, 40)
    size, _ = decode_varint(f, p, 40)
    block = index[off : off + size]
    if index[off + size] == 1:
        from tfckpt_lite._snappy import snappy_decompress

        block = snappy_decompress(block)
    out = []
    for k, v in decode_block(block):
        o, q = decode_varint(v, 0, len(v))
        s, _ = decode_varint(v, q, len(v))
        out.append((k, (o, s)))
    return out


def _bundles_under(root: Path) -> Iterator[str]:
    for idx in sorted(root.rglob("*.index")):
        yield str(idx)[: -len(".index")]


def test_resaving_tf_fixtures_reproduces_their_bytes(tmp_path: Path) -> None:
    """Every TF-written single-shard fixture, re-saved in its data order, is byte-identical."""
    if not TESTDATA.is_dir():
        pytest.skip("no testdata/")
    checked = 0
    for i, prefix in enumerate(_bundles_under(TESTDATA)):
        if not Path(prefix + ".data-00000-of-00001").exists():
            continue
        out = tmp_path / f"r{i}"
        if _resave(prefix, out) is not None:
            continue
        assert files_of(out) == files_of(prefix), prefix
        checked += 1
    assert checked >= 3


def _realworld_dir() -> Path | None:
    for c in (
        os.environ.get("TFCKPT_REALWORLD"),
        str(REPO.parent / "shared" / "real-world-checkpoints"),
        "/work/shared/real-world-checkpoints",
    ):
        if c and Path(c).is_dir():
            return Path(c)
    return None


def test_resaving_real_world_bundles_reproduces_their_bytes(tmp_path: Path) -> None:
    """Real checkpoints (many TF versions): data files identical; index entries identical,
    and the whole index too unless the old writer Snappy-compressed its blocks."""
    root = _realworld_dir()
    if root is None:
        pytest.skip("real-world corpus not present")
    checked = 0
    for i, prefix in enumerate(_bundles_under(root)):
        if not Path(prefix + ".data-00000-of-00001").exists():
            continue
        out = tmp_path / f"r{i}"
        if _resave(prefix, out) is not None:
            continue
        ours, theirs = files_of(out), files_of(prefix)
        assert ours[1] == theirs[1], prefix
        assert read_table(ours[0]) == read_table(theirs[0]), prefix
        if not _snappy_blocks(theirs[0]):
            assert ours[0] == theirs[0], prefix
        checked += 1
        shutil.rmtree(tmp_path)
        tmp_path.mkdir()
    assert checked >= 10


# -- dtypes, shapes, values ------------------------------------------------------------------


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


def test_int4_is_stored_unpacked(tmp_path: Path) -> None:
    # FORMAT 4.6: one byte per element, int4 [1, 2, 3] is 01 02 03
    tfc.save(tmp_path / "c", {"q": np.array([1, 2, 3], dtype=ml_dtypes.int4)})
    assert files_of(tmp_path / "c")[1] == b"\x01\x02\x03"


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


# -- partitioned variables --------------------------------------------------------------------


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


# -- get_slice --------------------------------------------------------------------------------


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


@settings(max_examples=150, deadline=None)
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


# -- reader API -------------------------------------------------------------------------------


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


# -- path forms -------------------------------------------------------------------------------


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


# -- damaged files ----------------------------------------------------------------------------


def test_damage_is_detected(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", format_tensors())
    index_path = Path(str(tmp_path / "c") + ".index")
    data_path = Path(str(tmp_path / "c") + ".data-00000-of-00001")
    data = bytearray(data_path.read_bytes())
    data[3] ^= 0x40  # inside "w"
    data[31] ^= 0x01  # inside the length checksum of "s" (s@28: 02 00 03 | checksum)
    data_path.write_bytes(bytes(data))
    r = tfc.load_checkpoint(tmp_path / "c")
    with pytest.raises(tfc.ChecksumMismatchError) as ei:
        r["w"]
    assert ei.value.key == "w" and "c.data-00000-of-00001" in str(ei.value)
    assert r.get_tensor("w", verify=False)[0, 0] != 0  # unverified read sees the damage
    with pytest.raises(tfc.ChecksumMismatchError, match="length checksum"):
        r["s"]
    assert r["b"] == 7
    with pytest.raises(tfc.ChecksumMismatchError):
        r.verify()
    r.close()
    data_path.write_bytes(bytes(data[:50]))  # truncated: "d" runs past the end
    with (
        tfc.load_checkpoint(tmp_path / "c") as r2,
        pytest.raises(tfc.CorruptCheckpointError, match="runs past"),
    ):
        r2["d"]
    data_path.unlink()
    with tfc.load_checkpoint(tmp_path / "c") as r3, pytest.raises(tfc.CheckpointNotFoundError):
        r3["d"]
    index = bytearray(index_path.read_bytes())
    index[20] ^= 0x01
    index_path.write_bytes(bytes(index))
    with pytest.raises(tfc.ChecksumMismatchError) as ej:
        tfc.load_checkpoint(tmp_path / "c")
    assert "c.index" in str(ej.value)


def _write_index(prefix: Path, items: dict[bytes, bytes], header: bytes) -> None:
    Path(str(prefix) + ".index").write_bytes(build_table([(b"", header), *sorted(items.items())]))


def test_invalid_entries_are_corrupt_not_crashes(tmp_path: Path) -> None:
    p = tmp_path / "c"
    Path(str(p) + ".data-00000-of-00001").write_bytes(bytes(64))
    ok_crc = mask_crc(crc32c(bytes(8)))
    entries = {
        b"size": encode_entry(Entry(dtype=1, shape=(3,), size=8, crc32c=ok_crc)),
        b"neg": encode_entry(Entry(dtype=1, shape=(-2,), size=8, crc32c=ok_crc)),
        b"shard": encode_entry(Entry(dtype=1, shape=(2,), shard_id=3, size=8, crc32c=ok_crc)),
        b"past": encode_entry(Entry(dtype=1, shape=(2,), offset=60, size=8, crc32c=ok_crc)),
        b"huge": encode_entry(Entry(dtype=1, shape=(2**40, 2**20), size=2**62, crc32c=ok_crc)),
        b"var": encode_entry(Entry(dtype=21, shape=(1,), size=8, crc32c=ok_crc)),
        b"res": encode_entry(Entry(dtype=20, shape=(), size=8, crc32c=ok_crc)),
        b"unk": encode_entry(Entry(dtype=77, shape=(), size=8, crc32c=ok_crc)),
        b"junk": b"\x12\x05",
        # a string tensor claiming 2**40 elements in 10 bytes: refused before allocating
        b"hugestr": encode_entry(Entry(dtype=7, shape=(2**40,), size=10, crc32c=ok_crc)),
        b"slicedstr": encode_entry(Entry(dtype=7, shape=(2**40,), slices=[[(0, -1)]])),
        b"negoff": encode_entry(Entry(dtype=1, shape=(2,), offset=-8, size=8, crc32c=ok_crc)),
        b"overlap": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 3)], [(2, 2)]])),
        b"outside": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(2, 3)]])),
        b"rank": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 2), (0, 1)]])),
        b"noslice": encode_entry(Entry(dtype=1, shape=(4,), slices=[[(0, 2)], [(2, 2)]])),
        b"good": encode_entry(Entry(dtype=9, shape=(), size=8, crc32c=ok_crc)),
        # valid for TF (0 elements) but NumPy cannot make an array of this shape
        b"emptybig": encode_entry(Entry(dtype=1, shape=(0, 2**61), crc32c=mask_crc(0))),
    }
    _write_index(p, entries, encode_header(BundleHeader()))
    r = tfc.load_checkpoint(p)
    assert r["good"] == 0
    corrupt = ["size", "neg", "shard", "past", "huge", "junk", "hugestr", "slicedstr", "negoff"]
    corrupt += ["overlap", "outside", "rank", "noslice"]
    for k in corrupt:
        with pytest.raises(tfc.CorruptCheckpointError) as ei:
            r[k]
        assert ei.value.key == k
    for k in ("var", "res", "unk", "emptybig"):
        with pytest.raises(tfc.UnsupportedCheckpointError):
            r[k]
    assert r.dtype("var") == "variant" and r.shape("var") == (1,)
    assert r.dtype("unk") == "DT_77"


def test_bad_headers(tmp_path: Path) -> None:
    p = tmp_path / "c"
    Path(str(p) + ".index").write_bytes(build_table([(b"a", b"")]))
    with pytest.raises(tfc.CorruptCheckpointError, match="header"):
        tfc.load_checkpoint(p)
    _write_index(p, {}, encode_header(BundleHeader(min_consumer=5)))
    with pytest.raises(tfc.UnsupportedCheckpointError, match="min consumer"):
        tfc.load_checkpoint(p)
    Path(str(p) + ".index").write_bytes(b"not a table at all" * 4)
    with pytest.raises(tfc.CorruptCheckpointError, match="magic"):
        tfc.load_checkpoint(p)


# -- big-endian bundle (FORMAT §9) ------------------------------------------------------------


def _be_string_payload(values: list[bytes]) -> tuple[bytes, int]:
    varints = b"".join(encode_varint(len(v)) for v in values)
    words = b"".join(struct.pack(">I", len(v)) for v in values)
    stored = struct.pack(">I", mask_crc(crc32c(words)))
    data = b"".join(values)
    return varints + stored + data, mask_crc(crc32c(data, crc32c(stored, crc32c(words))))


def test_big_endian_bundle_crafted_by_hand(tmp_path: Path) -> None:
    values: dict[str, Any] = {
        "f32": np.array([[1.5, -2.0], [3.25, np.inf]], np.float32),
        "i32": np.array(-7, np.int32),
        "f64": np.array([1e300, -0.0], np.float64),
        "c64": np.array([1 + 2j, -3.5 - 4j], np.complex64),
        "c128": np.array([1e-300 + 5j], np.complex128),
        "u16": np.array([1, 0x1234, 0xFFFE], np.uint16),
        "i64": np.array([-(2**62), 5], np.int64),
        "b16": np.array([1.0, -2.5], ml_dtypes.bfloat16),
        "f16": np.array([0.5, 65504], np.float16),
        "u8": np.array([1, 2, 255], np.uint8),
        "bool": np.array([True, False]),
    }
    strings = {"s": [b"ab", b"", b"xyz"], "e": [], "scalar_str": [b"hello"], "big": [b"q" * 300]}
    enums = {"f32": 1, "i32": 3, "f64": 2, "c64": 8, "c128": 18, "u16": 17, "i64": 9}
    enums |= {"b16": 14, "f16": 19, "u8": 4, "bool": 10}
    data = b""
    items: dict[bytes, bytes] = {}
    for k, v in values.items():
        if v.dtype.kind == "c":
            be = v.view(v.real.dtype).astype(v.real.dtype.newbyteorder(">")).tobytes()
        elif v.dtype == ml_dtypes.bfloat16:
            be = v.view(np.uint16).astype(">u2").tobytes()
        else:
            be = v.astype(v.dtype.newbyteorder(">")).tobytes()
        e = Entry(enums[k], v.shape, 0, len(data), len(be), mask_crc(crc32c(be)))
        items[k.encode()] = encode_entry(e)
        data += be
    for k, sv in strings.items():
        payload, crc = _be_string_payload(sv)
        shape = () if k == "scalar_str" else (len(sv),)
        items[k.encode()] = encode_entry(Entry(7, shape, 0, len(data), len(payload), crc))
        data += payload
    header = encode_header(BundleHeader(big_endian=True))
    assert header == bytes.fromhex("080110011a020801")
    p = tmp_path / "be"
    Path(str(p) + ".data-00000-of-00001").write_bytes(data)
    _write_index(p, items, header)
    with tfc.load_checkpoint(p) as r:
        assert r.verify() == len(values) + len(strings)
        for k, v in values.items():
            got = r[k]
            assert got.dtype == v.dtype.newbyteorder("<") or got.dtype == v.dtype, k
            assert got.tobytes() == v.astype(v.dtype.newbyteorder("<")).tobytes(), k
        assert r["s"].tolist() == [b"ab", b"", b"xyz"]
        assert r["e"].shape == (0,)
        assert r["scalar_str"].item() == b"hello"
        assert r["big"].tolist() == [b"q" * 300]
        assert np.array_equal(r.get_slice("f32")[1], values["f32"][1])
        assert np.array_equal(r.get_slice("u16")[::-2], values["u16"][::-2])


# -- multiple data shards ---------------------------------------------------------------------


def _merge(prefixes: list[Path], out: Path) -> None:
    """MergeBundles (FORMAT §1.3) done by hand: shard ids in input order, full entries of a
    sliced tensor get their slice lists appended, header num_shards is the sum."""
    merged: dict[bytes, Entry] = {}
    n = len(prefixes)
    for shard, p in enumerate(prefixes):
        items = read_table(Path(str(p) + ".index").read_bytes())
        assert decode_header(items[0][1]).num_shards == 1
        for k, v in items[1:]:
            e = decode_entry(v)
            if e.slices:
                if k in merged:
                    merged[k].slices += e.slices
                    continue
            else:
                e.shard_id = shard
            assert k not in merged
            merged[k] = e
        os.rename(str(p) + ".data-00000-of-00001", f"{out}.data-{shard:05d}-of-{n:05d}")
        os.unlink(str(p) + ".index")
    _write_index(
        out,
        {k: encode_entry(e) for k, e in merged.items()},
        encode_header(BundleHeader(num_shards=n)),
    )


def test_multi_shard_bundle(tmp_path: Path) -> None:
    full = np.arange(30, dtype=np.int32).reshape(6, 5)
    with tfc.BundleWriter(tmp_path / "tmp" / "part-0") as w:
        w.add("a", np.float32(1.0))
        w.add("shared/x", np.arange(3, dtype=np.int64))
        w.add_slice("part", (6, 5), "0,4:-", full[:4])
    with tfc.BundleWriter(tmp_path / "tmp" / "part-1") as w:
        w.add("b", [b"two", b"\x00"])
        w.add_slice("part", (6, 5), "4,2:-", full[4:])
    _merge([tmp_path / "tmp" / "part-0", tmp_path / "tmp" / "part-1"], tmp_path / "m")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "m.data-00000-of-00002",
        "m.data-00001-of-00002",
        "m.index",
        "tmp",
    ]
    for form in (tmp_path / "m", tmp_path / "m.data-00001-of-00002", tmp_path / "m.index"):
        with tfc.load_checkpoint(form) as r:
            assert list(r) == ["a", "b", "part", "shared/x"]
            assert r["a"] == 1.0 and r["b"].tolist() == [b"two", b"\x00"]
            assert np.array_equal(r["part"], full)
            assert np.array_equal(r.get_slice("part")[3:5], full[3:5])
            assert r["shared/x"].tolist() == [0, 1, 2]
            assert r.verify() == 4
    os.unlink(tmp_path / "m.data-00001-of-00002")
    with tfc.load_checkpoint(tmp_path / "m") as r:
        assert r["a"] == 1.0
        with pytest.raises(tfc.CheckpointNotFoundError):
            r["b"]


# -- Snappy-compressed table blocks -----------------------------------------------------------

# The data block of the index of SNAPPY_TENSORS (as `save` writes it), compressed once by the
# reference Snappy compressor (cramjam 2.x snappy.compress_raw); it uses copies.
SNAPPY_TENSORS = {
    f"layer_{i}/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.float32(i) for i in range(8)
}
SNAPPY_DATA_BLOCK = bytes.fromhex(
    "dd03f04900000608011a020801002f0b6c617965725f302f64656e73652f6b65726e656c2f2e4154545249"
    "42555445532f5641524941424c455f56414c554508011200280435a67b113a06290d31ae37003020042804"
    "3581a5da2b06290d32b239002c0828043510fd784f06290d33b239002c0c280435efd682c306290d34b239"
    "002c1028043597d088fb06290d35b239002c142804358005844106290d36b239002c1828043568068f7706"
    "290d37b239003c1c2804355fcf8bb50000000001000000"
)


def _literal_snappy(raw: bytes) -> bytes:
    """Valid Snappy with literals only (the format allows it; some writers do this)."""
    out = bytearray(encode_varint(len(raw)))
    for i in range(0, len(raw), 65536):
        chunk = raw[i : i + 65536]
        out += bytes([62 << 2]) + (len(chunk) - 1).to_bytes(3, "little") + chunk
    return bytes(out)


def _recompress_table(table: bytes, compress: Callable[[bytes], bytes]) -> bytes:
    """Rewrite a table with every data block and the index block stored as type 1."""
    out = bytearray()

    def write(contents: bytes) -> tuple[int, int]:
        h = (len(out), len(contents))
        out.extend(contents + b"\x01")
        out.extend(struct.pack("<I", mask_crc(crc32c(b"\x01", crc32c(contents)))))
        return h

    from tfckpt_lite._block import BlockBuilder

    ib = BlockBuilder(1)
    for key, (o, s) in _block_handles(table):
        ho, hs = write(compress(table[o : o + s]))
        ib.add(key, encode_varint(ho) + encode_varint(hs))
    meta = (len(out), 8)
    out.extend(bytes.fromhex("0000000001000000") + b"\x00" + bytes.fromhex("c0f2a1b0"))
    idx = write(compress(ib.finish()))
    footer = b"".join(encode_varint(x) for x in (*meta, *idx))
    out.extend(footer + bytes(40 - len(footer)) + table[-8:])
    return bytes(out)


def test_snappy_compressed_index_reads(tmp_path: Path) -> None:
    from tfckpt_lite._snappy import snappy_decompress

    tfc.save(tmp_path / "c", SNAPPY_TENSORS)
    index_path = Path(str(tmp_path / "c") + ".index")
    plain = index_path.read_bytes()
    ((_, (o, s)),) = _block_handles(plain)
    assert snappy_decompress(SNAPPY_DATA_BLOCK) == plain[o : o + s]

    def compress(raw: bytes) -> bytes:
        return SNAPPY_DATA_BLOCK if raw == plain[o : o + s] else _literal_snappy(raw)

    compressed = _recompress_table(plain, compress)
    assert _snappy_blocks(compressed) and len(compressed) < len(plain)
    index_path.write_bytes(compressed)
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == sorted(SNAPPY_TENSORS)
        assert all(r[k] == v for k, v in SNAPPY_TENSORS.items())
    # many blocks, all compressed literal-only
    many = {f"k{i:04d}": np.int64(i) for i in range(400)}
    tfc.save(tmp_path / "m", many)
    from tfckpt_lite._table import build_table as bt

    items = read_table(Path(str(tmp_path / "m") + ".index").read_bytes())
    small_blocks = bt(items, block_size=512)
    Path(str(tmp_path / "m") + ".index").write_bytes(
        _recompress_table(small_blocks, _literal_snappy)
    )
    assert len(_block_handles(small_blocks)) > 10
    assert tfc.load(tmp_path / "m") == many
    # a damaged compressed block with a valid CRC is corrupt, not a crash
    bad = _recompress_table(plain, lambda raw: b"\xff\xff\xff\xff\x0f")
    index_path.write_bytes(bad)
    with pytest.raises(tfc.CorruptCheckpointError, match="compressed"):
        tfc.load_checkpoint(tmp_path / "c")


# -- the atomic writer ------------------------------------------------------------------------


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


def test_empty_checkpoint(tmp_path: Path) -> None:
    tfc.save(tmp_path / "c", {})
    idx, data = files_of(tmp_path / "c")
    assert data == b""
    assert read_table(idx) == [(b"", bytes.fromhex("08011a020801"))]
    with tfc.load_checkpoint(tmp_path / "c") as r:
        assert list(r) == [] and r.verify() == 0


def test_manifest_of_fixtures_matches_reader_if_present() -> None:
    manifest = TESTDATA / "manifest.json"
    if not manifest.exists():
        pytest.skip("no testdata manifest")
    m = json.loads(manifest.read_text())
    ex = m["checkpoints"].get("savev2_example/ckpt")
    if ex is None:
        pytest.skip("no savev2_example in manifest")
    with tfc.load_checkpoint(TESTDATA / "savev2_example" / "ckpt") as r:
        assert sorted(ex["tensors"]) == list(r)
        for k, t in ex["tensors"].items():
            assert r.dtype(k) == t["dtype"] and list(r.shape(k)) == t["shape"]


# -- fuzzing: damaged entries behind valid block checksums ------------------------------------


@pytest.fixture(scope="module")
def fuzz_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[bytes, bytes]]]:
    d = tmp_path_factory.mktemp("fuzz")
    with tfc.BundleWriter(d / "c") as w:
        w.add("f", np.arange(6, dtype=np.float32).reshape(2, 3))
        w.add("s", [b"ab", b"", b"xyz"])
        w.add("scalar", np.int64(-5))
        w.add("e", np.zeros((0, 3), np.int8))
        w.add_slice("p", (4, 2), "0,2:-", np.ones((2, 2), np.float64))
        w.add_slice("p", (4, 2), "2,2:-", np.zeros((2, 2), np.float64))
        w.add_slice("ps", (3,), "0,1", [b"x"])
        w.add_slice("ps", (3,), "1,2", [b"y", b"z\x00"])
    return d / "c", read_table(Path(str(d / "c") + ".index").read_bytes())


_USER_ACTIONS: list[Callable[[tfc.CheckpointReader, str], object]] = [
    lambda r, k: r[k],
    lambda r, k: r.get_tensor(k, verify=False),
    lambda r, k: (r.shape(k), r.dtype(k)),
    lambda r, k: r.get_slice(k)[0:1] if r.shape(k) and r.shape(k)[0] else None,
    lambda r, k: r.get_slice(k)[::-1] if r.shape(k) else None,
    lambda r, k: r.verify(),
]


def _attempt(action: Callable[[tfc.CheckpointReader, str], object], r: Any, k: str) -> None:
    try:
        action(r, k)
    except tfc.CheckpointError:
        pass


def _exercise(prefix: Path) -> None:
    """Do everything a user might do; only CheckpointError may come out."""
    try:
        r = tfc.load_checkpoint(prefix)
    except tfc.CheckpointError:
        return
    with r:
        for k in list(r):
            for action in _USER_ACTIONS:
                _attempt(action, r, k)


@settings(max_examples=int(os.environ.get("TFCKPT_FUZZ_EXAMPLES", "150")), deadline=None)
@given(st.data())
def test_damaged_entries_raise_only_checkpoint_errors(
    fuzz_source: tuple[Path, list[tuple[bytes, bytes]]], data: st.DataObject
) -> None:
    import tempfile

    src, items = fuzz_source
    items = list(items)
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(items) - 1))
        k, v = items[i]
        kind = data.draw(st.sampled_from(["byte", "cut", "insert", "key", "varint"]))
        if kind == "byte" and v:
            j = data.draw(st.integers(0, len(v) - 1))
            v = v[:j] + bytes([data.draw(st.integers(0, 255))]) + v[j + 1 :]
        elif kind == "cut":
            v = v[: data.draw(st.integers(0, len(v)))]
        elif kind == "insert":
            j = data.draw(st.integers(0, len(v)))
            v = v[:j] + data.draw(st.binary(min_size=1, max_size=4)) + v[j:]
        elif kind == "varint":
            field = data.draw(st.sampled_from([1, 3, 4, 5]))
            v = v + bytes([field << 3]) + encode_varint(data.draw(st.integers(0, 2**64 - 1)))
        elif kind == "key" and k:
            k = k + data.draw(st.binary(min_size=1, max_size=3))
        items[i] = (k, v)
    dedup = dict(items)
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "c"
        for suffix in (".data-00000-of-00001",):
            shutil.copy(str(src) + suffix, str(p) + suffix)
        Path(str(p) + ".index").write_bytes(build_table(sorted(dedup.items())))
        _exercise(p)


def test_verify_checks_variant_tensors(tmp_path: Path) -> None:
    """DT_VARIANT values cannot be read, but verify() still checks their checksums (FORMAT 5.5)
    instead of refusing the whole checkpoint."""
    protos = [b"\x0a\x12tensorflow::Iterator", b"\x12\x03abc"]
    payload = b""
    c = 0
    for proto in protos:
        payload += encode_varint(len(proto)) + proto
        c = crc32c(proto, crc32c(len(proto).to_bytes(8, "little"), c))
        stored = mask_crc(c).to_bytes(4, "little")
        payload += stored
        c = crc32c(stored, c)
    p = tmp_path / "v"
    Path(str(p) + ".data-00000-of-00001").write_bytes(payload + b"\x07\x00\x00\x00")
    entries = {
        b"it": encode_entry(Entry(21, (2,), 0, 0, len(payload), mask_crc(c))),
        b"n": encode_entry(Entry(3, (), 0, len(payload), 4, mask_crc(crc32c(b"\x07\x00\x00\x00")))),
    }
    _write_index(p, entries, encode_header(BundleHeader()))
    with tfc.load_checkpoint(p) as r:
        assert r.dtype("it") == "variant" and r.shape("it") == (2,)
        with pytest.raises(tfc.UnsupportedCheckpointError, match="VARIANT"):
            r["it"]
        assert r.verify() == 2
    damaged = bytearray(payload)
    damaged[5] ^= 1
    Path(str(p) + ".data-00000-of-00001").write_bytes(bytes(damaged) + b"\x07\x00\x00\x00")
    with tfc.load_checkpoint(p) as r, pytest.raises(tfc.ChecksumMismatchError) as ei:
        r.verify()
    assert ei.value.key == "it"
    fixture = TESTDATA / "iterator_variant" / "ckpt"
    if Path(str(fixture) + ".index").exists():
        with tfc.load_checkpoint(fixture) as r:
            assert r.verify() == len(r)


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


def test_big_endian_partitioned_tensor(tmp_path: Path) -> None:
    full = np.arange(12, dtype=np.float32).reshape(4, 3)
    data = b""
    items: dict[bytes, bytes] = {}
    slices = [[(0, 1), (0, -1)], [(1, 3), (0, -1)]]
    for (start, length), _ in slices:
        part = full[start : start + length].astype(">f4").tobytes()
        entry = Entry(1, (length, 3), 0, len(data), len(part), mask_crc(crc32c(part)))
        items[encode_slice_key(b"p", [(start, length), (0, -1)])] = encode_entry(entry)
        data += part
    items[b"p"] = encode_entry(Entry(1, (4, 3), slices=slices))
    p = tmp_path / "be"
    Path(str(p) + ".data-00000-of-00001").write_bytes(data)
    _write_index(p, items, encode_header(BundleHeader(big_endian=True)))
    with tfc.load_checkpoint(p) as r:
        assert list(r) == ["p"]
        assert np.array_equal(r["p"], full) and r["p"].dtype == np.dtype("<f4")
        assert np.array_equal(r.get_slice("p")[2:], full[2:])


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


# -- mmap=False: copying reads ----------------------------------------------------------------


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
