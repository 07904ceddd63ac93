"""The legacy V1 (TensorSlice table) reader.

* TF 2.21's own V1 files in `testdata/v1_format/` read with the values TF restores
  (`testdata/manifest.json`: `digest` from get_tensor, `restore_v2_digest` where only the
  RestoreV2 kernel can read them), by every name TF accepts: file, shard pattern, bare prefix,
  directory with a state file;
* files built with the protobuf runtime (tests/_v1_files.py): every dtype, partitioned
  tensors across shards, 2015 files without `versions`, unpacked repeated fields;
* damage: every way a file can lie gives a `CheckpointError` naming file and tensor, and
  random byte flips never give anything but the right values or a `CheckpointError`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._dtypes import dtype_from_name
from tfckpt_lite._ordered_code import encode_slice_key
from tfckpt_lite._proto import saved_tensor_slice_pb2 as stp
from tfckpt_lite._proto import tensor_pb2
from tfckpt_lite._storage import LocalFileSystem
from tfckpt_lite._v1 import V1Reader
from tfckpt_lite._wire import field_bytes, field_fixed32, field_varint

from ._v1_files import (
    V1_DTYPES,
    V1Tensor,
    build_v1,
    full_slice,
    row_partitions,
    tensor_proto,
    whole,
)
from .canonical import canonical_digest
from .conftest import budget

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO / "testdata"
MANIFEST: dict[str, Any] = json.loads((TESTDATA / "manifest.json").read_text())
V1_FIXTURES = {k: c for k, c in MANIFEST["checkpoints"].items() if c["format"] == "v1"}


# -- TF-written fixtures --------------------------------------------------------------------


def _check_against_manifest(path: Path | str, expected: dict[str, Any]) -> None:
    with tfc.load_checkpoint(path) as r:
        assert r.format == "v1"
        assert list(r) == sorted(expected)
        for key, t in expected.items():
            assert r.dtype(key) == t["dtype"]
            assert list(r.shape(key)) == t["shape"]
            value = r[key]
            assert value.shape == tuple(t["shape"])
            assert canonical_digest(value) == (t.get("digest") or t["restore_v2_digest"]), key
        assert r.verify() == len(expected)


def test_fixtures_present() -> None:
    assert set(V1_FIXTURES) == {
        "v1_format/single/model.ckpt",
        "v1_format/sharded/model.ckpt-?????-of-00002",
    }


@pytest.mark.parametrize("name", sorted(V1_FIXTURES))
def test_tf_fixture_values(name: str) -> None:
    _check_against_manifest(TESTDATA / name, V1_FIXTURES[name]["tensors"])


def test_tf_fixture_names() -> None:
    """Every name TF accepts for the sharded set, plus the bare prefix and the directory."""
    expected = V1_FIXTURES["v1_format/sharded/model.ckpt-?????-of-00002"]["tensors"]
    d = TESTDATA / "v1_format" / "sharded"
    for path in (d / "model.ckpt-?????-of-00002", d / "model.ckpt-*", d / "model.ckpt", d):
        with tfc.load_checkpoint(path) as r:
            assert list(r) == sorted(expected), path
            assert np.array_equal(r["dtype_int64"], [-(2**63), 2**63 - 1, -1, 1])
    assert tfc.latest_checkpoint(d) == str(d / "model.ckpt-?????-of-00002")
    # One shard file alone is a V1 file of its own: it holds only its own tensors.
    with tfc.load_checkpoint(d / "model.ckpt-00000-of-00002") as one:
        assert 0 < len(one) < len(expected)
    single = TESTDATA / "v1_format" / "single"
    assert tfc.latest_checkpoint(single) == str(single / "model.ckpt")
    assert tfc.list_variables(single) == [
        (k, V1_FIXTURES["v1_format/single/model.ckpt"]["tensors"][k]["shape"])
        for k in sorted(V1_FIXTURES["v1_format/single/model.ckpt"]["tensors"])
    ]


def test_tf_fixture_partitioned_values() -> None:
    """`scope/part` [10,4] is three row slices; its values are 1..40 in row-major order."""
    with tfc.load_checkpoint(TESTDATA / "v1_format" / "single" / "model.ckpt") as r:
        part = r["scope/part"]
        assert part.dtype == np.float32
        assert np.array_equal(part, np.arange(1, 41, dtype=np.float32).reshape(10, 4))
        assert np.array_equal(r.get_slice("scope/part")[3:5, 1], [14, 18])
        assert r["dtype_string"].tolist() == [b"", b"a", b"\x00\xff", "\u00e9\u4e2d".encode()]


def test_missing_shard_is_named(tmp_path: Path) -> None:
    src = TESTDATA / "v1_format" / "sharded"
    shutil.copy(src / "model.ckpt-00000-of-00002", tmp_path)
    with pytest.raises(tfc.CheckpointNotFoundError) as info:
        tfc.load_checkpoint(tmp_path / "model.ckpt-?????-of-00002")
    assert info.value.path is not None
    assert info.value.path.endswith("model.ckpt-00001-of-00002")
    assert "shard 1 of 2" in str(info.value)


def test_two_shard_sets_are_ambiguous(tmp_path: Path) -> None:
    src = TESTDATA / "v1_format" / "sharded"
    for f in ("model.ckpt-00000-of-00002", "model.ckpt-00001-of-00002"):
        shutil.copy(src / f, tmp_path)
    shutil.copy(
        TESTDATA / "v1_format" / "single" / "model.ckpt", tmp_path / "model.ckpt-00000-of-00001"
    )
    with pytest.raises(tfc.CorruptCheckpointError, match="several shard sets"):
        tfc.load_checkpoint(tmp_path / "model.ckpt")
    with tfc.load_checkpoint(tmp_path / "model.ckpt-?????-of-00001") as r:
        assert len(r) == 17


def test_no_match(tmp_path: Path) -> None:
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(tmp_path / "model.ckpt-?????-of-00002")
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(tmp_path / "nothing")


# -- files built from protos ----------------------------------------------------------------


def _values(dtype: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    n = int(np.prod(shape, dtype=np.int64))
    if dtype == "string":
        out = np.empty(n, object)
        out[:] = [
            bytes(rng.integers(0, 256, int(rng.integers(0, 5))).astype(np.uint8)) for _ in range(n)
        ]
        return out.reshape(shape)
    if dtype == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    dt = dtype_from_name(dtype).numpy_dtype
    assert dt is not None
    raw = rng.integers(0, 256, n * dt.itemsize).astype(np.uint8).tobytes()
    vals: np.ndarray[Any, Any] = np.frombuffer(raw, dt).reshape(shape).copy()
    if dtype in ("float", "float32", "complex64"):
        # The test's proto builder passes float32 through Python floats, which quiets
        # signalling NaNs on x86; make them quiet up front so the expectation is exact.
        bits = vals.reshape(-1).view(np.uint32)
        snan = ((bits & 0x7F800000) == 0x7F800000) & ((bits & 0x7FFFFF) != 0)
        bits[snan] |= 0x400000
    return vals


def _same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> bool:
    if a.dtype.kind == "O":
        return a.shape == b.shape and bool(a.tolist() == b.tolist())
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", V1_DTYPES)
def test_every_dtype_bit_exact(tmp_path: Path, dtype: str) -> None:
    rng = np.random.default_rng(sum(map(ord, dtype)))
    values = _values(dtype, rng, (3, 5))
    scalar = _values(dtype, rng, ())
    empty = _values(dtype, rng, (0, 4))
    path = tmp_path / "model.ckpt"
    path.write_bytes(
        build_v1([whole("m", dtype, values), whole("s", dtype, scalar), whole("e", dtype, empty)])
    )
    with tfc.load_checkpoint(path) as r:
        assert r.format == "v1"
        assert r.dtype("m") == dtype
        for key, v in (("m", values), ("s", scalar), ("e", empty)):
            got = r[key]
            if dtype.startswith("q"):  # quantized types come back as their plain integers
                v = v.view(got.dtype)
            assert _same(got, v), key


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    dtype=st.sampled_from(V1_DTYPES),
    rows=st.integers(1, 9),
    cols=st.integers(0, 3),
    cuts=st.lists(st.integers(1, 8), max_size=4),
    shards=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_partitioned_across_shards(
    tmp_path_factory: pytest.TempPathFactory,
    dtype: str,
    rows: int,
    cols: int,
    cuts: list[int],
    shards: int,
    seed: int,
) -> None:
    """A tensor split in rows, its slices spread over shard files, with explicit lengths for
    the full column dimension as Python's SaveSliceInfo writes them."""
    rng = np.random.default_rng(seed)
    values = _values(dtype, rng, (rows, cols))
    parts = row_partitions(rows, cuts)
    files: list[list[V1Tensor]] = [[] for _ in range(shards)]
    for i, (start, length) in enumerate(parts):
        tp = tensor_proto(dtype, values[start : start + length]).SerializeToString()
        files[i % shards].append(
            V1Tensor("w", dtype, values.shape, [([(start, length), (0, cols)], tp)])
        )
    files[0].append(whole("other", "int32", np.arange(3, dtype=np.int32)))
    d = tmp_path_factory.mktemp("v1")
    for i, tensors in enumerate(files):
        (d / f"ckpt-{i:05d}-of-{shards:05d}").write_bytes(build_v1(tensors))
    with tfc.load_checkpoint(d / f"ckpt-?????-of-{shards:05d}") as r:
        assert list(r) == ["other", "w"]
        got = r["w"]
        want = values.view(got.dtype) if dtype.startswith("q") else values
        assert _same(got, want)
        assert r.shape("w") == (rows, cols)


def test_2015_file_without_versions(tmp_path: Path) -> None:
    path = tmp_path / "old.ckpt"
    path.write_bytes(
        build_v1([whole("v", "float32", np.array([1.5, 2.5], np.float32))], versions=False)
    )
    assert tfc.load(path)["v"].tolist() == [1.5, 2.5]


def test_unpacked_repeated_fields(tmp_path: Path) -> None:
    """Wire forms a proto2-era writer could use: one tag per element."""
    floats = b"".join(
        field_fixed32(5, v) for v in np.array([1.0, -2.0], np.float32).view(np.uint32).tolist()
    )
    ints = b"".join(field_varint(7, v) for v in (-1, 300, 5))
    half_packed_plus_loose = (
        field_varint(13, 7) + field_bytes(13, bytes([0x00, 0x01])) + field_varint(13, 0x3C00)
    )
    t = [
        V1Tensor("f", "float32", (2,), [(full_slice((2,)), floats)]),
        V1Tensor("i", "int16", (3,), [(full_slice((3,)), ints)]),
        V1Tensor("h", "float16", (4,), [(full_slice((4,)), half_packed_plus_loose)]),
    ]
    path = tmp_path / "ckpt"
    path.write_bytes(build_v1(t))
    got = tfc.load(path)
    assert got["f"].tolist() == [1.0, -2.0]
    assert got["i"].tolist() == [-1, 300, 5]
    assert got["h"].view(np.uint16).tolist() == [7, 0, 1, 0x3C00]  # wire order


def test_narrowing_keeps_low_bits(tmp_path: Path) -> None:
    """int_val is int32 on the wire; TF static_casts it to the dtype (low bits), and a varint
    wider than 32 bits is cut to 32 by protobuf itself. half_val keeps its low 16 bits."""
    ints = field_bytes(7, b"".join(field_varint(0, v)[1:] for v in (0x1FF, -129, 2**40 + 7)))
    halves = field_bytes(13, field_varint(0, 0x13C00)[1:])
    t = [
        V1Tensor("u8", "uint8", (3,), [(full_slice((3,)), ints)]),
        V1Tensor("i8", "int8", (3,), [(full_slice((3,)), ints)]),
        V1Tensor("i32", "int32", (3,), [(full_slice((3,)), ints)]),
        V1Tensor("h", "float16", (1,), [(full_slice((1,)), halves)]),
        V1Tensor("b", "bool", (3,), [(full_slice((3,)), field_bytes(11, bytes([0, 1, 2])))]),
    ]
    path = tmp_path / "ckpt"
    path.write_bytes(build_v1(t))
    got = tfc.load(path)
    assert got["u8"].tolist() == [0xFF, 0x7F, 7]
    assert got["i8"].tolist() == [-1, 127, 7]
    assert got["i32"].tolist() == [0x1FF, -129, 7]
    assert got["h"].tolist() == [1.0]
    assert got["b"].tolist() == [False, True, True]


def test_tensor_content_fallback(tmp_path: Path) -> None:
    v = np.array([[1, 2], [3, 4]], np.int64)
    tp = tensor_pb2.TensorProto(tensor_content=v.tobytes()).SerializeToString()
    path = tmp_path / "ckpt"
    path.write_bytes(build_v1([V1Tensor("c", "int64", (2, 2), [(full_slice((2, 2)), tp)])]))
    assert tfc.load(path)["c"].tolist() == [[1, 2], [3, 4]]


def test_binary_checkpoint_file_is_a_v1_checkpoint(tmp_path: Path) -> None:
    """A V1 checkpoint saved under the prefix `checkpoint` is not a state file."""
    (tmp_path / "checkpoint").write_bytes(build_v1([whole("x", "int32", np.array([7], np.int32))]))
    assert tfc.latest_checkpoint(tmp_path) is None
    for path in (tmp_path, tmp_path / "checkpoint"):
        with tfc.load_checkpoint(path) as r:
            assert r.format == "v1"
            assert r["x"].tolist() == [7]


def test_unsupported_dtype_lists_but_does_not_read(tmp_path: Path) -> None:
    tp = tensor_pb2.TensorProto(half_val=[0x3F80]).SerializeToString()
    t = V1Tensor("bf", "bfloat16", (1,), [(full_slice((1,)), tp)])
    path = tmp_path / "ckpt"
    path.write_bytes(build_v1([t, whole("ok", "int32", np.array([1], np.int32))]))
    with tfc.load_checkpoint(path) as r:
        assert r.dtype("bf") == "bfloat16"
        assert r.dtype_info("bf").numpy_dtype == np.dtype(ml_dtypes.bfloat16)
        with pytest.raises(tfc.UnsupportedCheckpointError) as info:
            r["bf"]
        assert info.value.key == "bf"
        assert r.verify() == 2  # unreadable dtypes are skipped, the rest checked


# -- damage ---------------------------------------------------------------------------------


def _write(tmp_path: Path, data: bytes, name: str = "ckpt") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def _read_error(path: Path, key: str) -> tfc.CheckpointError:
    with tfc.load_checkpoint(path) as r, pytest.raises(tfc.CheckpointError) as info:
        r[key]
    return info.value


def test_count_mismatch(tmp_path: Path) -> None:
    """TF 2.x requires exactly as many values as the slice has elements; one value is not
    broadcast."""
    for n in (1, 3, 5):
        tp = tensor_pb2.TensorProto(float_val=[1.0] * n).SerializeToString()
        path = _write(
            tmp_path, build_v1([V1Tensor("v", "float32", (4,), [(full_slice((4,)), tp)])])
        )
        err = _read_error(path, "v")
        assert isinstance(err, tfc.CorruptCheckpointError)
        assert err.key == "v" and err.path == str(path)
        assert "expected 4" in str(err)
    # Strings and complex pairs are counted too.
    tp = tensor_pb2.TensorProto(scomplex_val=[1.0, 2.0, 3.0]).SerializeToString()
    path = _write(tmp_path, build_v1([V1Tensor("c", "complex64", (2,), [(full_slice((2,)), tp)])]))
    assert isinstance(_read_error(path, "c"), tfc.CorruptCheckpointError)
    tp = tensor_pb2.TensorProto(string_val=[b"a"]).SerializeToString()
    path = _write(tmp_path, build_v1([V1Tensor("s", "string", (2,), [(full_slice((2,)), tp)])]))
    assert isinstance(_read_error(path, "s"), tfc.CorruptCheckpointError)


def test_bad_tensor_content_length(tmp_path: Path) -> None:
    tp = tensor_pb2.TensorProto(tensor_content=b"\x00" * 7).SerializeToString()
    path = _write(tmp_path, build_v1([V1Tensor("c", "int64", (1,), [(full_slice((1,)), tp)])]))
    assert "tensor_content" in str(_read_error(path, "c"))


def test_slice_coverage_and_overlap(tmp_path: Path) -> None:
    v = np.arange(6, dtype=np.int32)
    tp_a = tensor_proto("int32", v[:2]).SerializeToString()
    tp_b = tensor_proto("int32", v[3:]).SerializeToString()
    gap = V1Tensor("g", "int32", (6,), [([(0, 2)], tp_a), ([(3, 3)], tp_b)])
    path = _write(tmp_path, build_v1([gap]))
    err = _read_error(path, "g")
    assert "sufficient slices" in str(err)
    tp_c = tensor_proto("int32", v[1:4]).SerializeToString()
    overlap = V1Tensor("o", "int32", (6,), [([(0, 2)], tp_a), ([(1, 3)], tp_c)])
    with pytest.raises(tfc.CorruptCheckpointError, match="overlapping") as info:
        tfc.load_checkpoint(_write(tmp_path, build_v1([overlap])))
    assert info.value.key == "o"
    outside = V1Tensor(
        "x", "int32", (6,), [([(4, 3)], tensor_proto("int32", v[:3]).SerializeToString())]
    )
    with pytest.raises(tfc.CorruptCheckpointError, match="outside"):
        tfc.load_checkpoint(_write(tmp_path, build_v1([outside])))
    rank = V1Tensor("r", "int32", (6,), [([(0, 3), (0, 1)], tp_c)])
    with pytest.raises(tfc.CorruptCheckpointError, match="rank"):
        tfc.load_checkpoint(_write(tmp_path, build_v1([rank])))


def test_listed_slice_without_entry(tmp_path: Path) -> None:
    """The table of contents names a slice whose key is absent from the table."""
    toc_only = build_v1([whole("v", "int32", np.arange(3, dtype=np.int32))])
    # Rebuild with the slice entry dropped: the same TOC and no data keys.
    from tfckpt_lite._table import build_table, read_table

    items = read_table(toc_only)
    path = _write(tmp_path, build_table(items[:1]))
    err = _read_error(path, "v")
    assert "has no entry" in str(err) and err.key == "v"


def test_shards_disagree(tmp_path: Path) -> None:
    a = build_v1(
        [
            V1Tensor(
                "w",
                "int32",
                (4,),
                [([(0, 2)], tensor_proto("int32", np.arange(2)).SerializeToString())],
            )
        ]
    )
    b = build_v1(
        [
            V1Tensor(
                "w",
                "int32",
                (5,),
                [([(2, 2)], tensor_proto("int32", np.arange(2)).SerializeToString())],
            )
        ]
    )
    c = build_v1(
        [
            V1Tensor(
                "w",
                "int64",
                (4,),
                [([(2, 2)], tensor_proto("int64", np.arange(2)).SerializeToString())],
            )
        ]
    )
    for other, what in ((b, "shapes"), (c, "type")):
        _write(tmp_path, a, "p-00000-of-00002")
        _write(tmp_path, other, "p-00001-of-00002")
        with pytest.raises(tfc.CorruptCheckpointError, match=what) as info:
            tfc.load_checkpoint(tmp_path / "p-?????-of-00002")
        assert info.value.key == "w"
        assert info.value.path is not None and info.value.path.endswith("p-00001-of-00002")


def test_versions_checked(tmp_path: Path) -> None:
    path = _write(
        tmp_path, build_v1([whole("v", "int32", np.arange(2, dtype=np.int32))], min_consumer=2)
    )
    with pytest.raises(tfc.UnsupportedCheckpointError, match="newer TensorFlow"):
        tfc.load_checkpoint(path)


def test_bad_toc(tmp_path: Path) -> None:
    from tfckpt_lite._table import build_table

    data_in_toc = stp.SavedTensorSlices()
    data_in_toc.data.name = "x"
    for items, match in (
        ([(b"", data_in_toc.SerializeToString())], "slice data"),
        ([(b"", b"")], "no SavedTensorSliceMeta"),
        ([(b"\x00a\x00\x01\x00", b"")], "beginning of the checkpoint"),
        ([(b"", b"\x0a\x03\x0a\x01")], "past"),
    ):
        with pytest.raises(tfc.CorruptCheckpointError, match=match) as info:
            tfc.load_checkpoint(_write(tmp_path, build_table(items)))
        assert info.value.path is not None


def test_negative_dimension(tmp_path: Path) -> None:
    t = V1Tensor("n", "int32", (-1,), [([(0, -1)], b"")])
    with pytest.raises(tfc.CorruptCheckpointError, match="negative") as info:
        tfc.load_checkpoint(_write(tmp_path, build_v1([t])))
    assert info.value.key == "n"


def test_huge_shape_is_refused_before_allocation(tmp_path: Path) -> None:
    """A TOC claiming 2^40 floats in a slice holding two: the count check fails first."""
    tp = tensor_proto("float32", np.ones(2, np.float32)).SerializeToString()
    t = V1Tensor("big", "float32", (2**20, 2**20), [(full_slice((2**20, 2**20)), tp)])
    err = _read_error(_write(tmp_path, build_v1([t])), "big")
    assert "expected 1099511627776" in str(err)


def test_unknown_key(tmp_path: Path) -> None:
    path = _write(tmp_path, build_v1([whole("v", "int32", np.arange(2, dtype=np.int32))]))
    with tfc.load_checkpoint(path) as r, pytest.raises(tfc.TensorNotFoundError):
        r["nope"]


def _fuzz_base() -> tuple[bytes, dict[str, np.ndarray[Any, Any]]]:
    values: dict[str, np.ndarray[Any, Any]] = {
        "a": np.arange(12, dtype=np.float32).reshape(3, 4),
        "b": np.array([-1, 2**40], np.int64),
        "s": np.array([b"xy", b""], object),
        "t": np.array([True, False]),
    }
    tensors = [
        whole(k, {"a": "float32", "b": "int64", "s": "string", "t": "bool"}[k], v)
        for k, v in values.items()
    ]
    part = np.arange(6, dtype=np.int16)
    tensors.append(
        V1Tensor(
            "p",
            "int16",
            (6,),
            [
                ([(0, 4)], tensor_proto("int16", part[:4]).SerializeToString()),
                ([(4, 2)], tensor_proto("int16", part[4:]).SerializeToString()),
            ],
        )
    )
    values["p"] = part
    return build_v1(tensors), values


_FUZZ_BASE, _FUZZ_VALUES = _fuzz_base()


@settings(
    max_examples=budget(300, 60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    flips=st.lists(
        st.tuples(st.integers(0, len(_FUZZ_BASE) - 1), st.integers(1, 255)), min_size=1, max_size=3
    ),
    cut=st.none() | st.integers(0, len(_FUZZ_BASE) - 1),
)
def test_damaged_bytes_never_lie(
    tmp_path_factory: pytest.TempPathFactory, flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(_FUZZ_BASE)
    for pos, x in flips:
        data[pos] ^= x
    if cut is not None:
        del data[cut:]
    path = tmp_path_factory.mktemp("fuzz") / "ckpt"
    path.write_bytes(bytes(data))
    try:
        r = tfc.load_checkpoint(path)
    except tfc.CheckpointError:
        return
    with r:
        for key in r:
            try:
                got = r[key]
            except tfc.CheckpointError:
                continue
            # Every byte is under a block CRC: whatever opens must be the original.
            assert _same(got, _FUZZ_VALUES[key]), key


def test_reader_protocol_details(tmp_path: Path) -> None:
    path = _write(tmp_path, build_v1([whole("m", "float64", np.arange(6.0).reshape(3, 2))]))
    r = V1Reader(str(path), LocalFileSystem())
    assert r.format == "v1" and r.prefix == str(path) and r.files == [str(path)]
    assert "m" in r and "x" not in r
    assert r.read_rows("m", 1, 3).tolist() == [[2.0, 3.0], [4.0, 5.0]]
    r.verify_tensor("m")
    with pytest.raises(tfc.TensorNotFoundError):
        r.verify_tensor("x")
    r.close()
    with pytest.raises(ValueError, match="closed") as info:
        r.read("m")
    assert not isinstance(info.value, tfc.CheckpointError)  # the caller's mistake
    assert encode_slice_key(b"m", [(0, -1), (0, -1)]) == b"\x00m\x00\x01\x01\x02\x80\x7f\x80\x7f"


def test_plain_files_that_are_not_tables(tmp_path: Path) -> None:
    for name, data in (("notes.txt", b"hello"), ("model.ckpt.meta", b"\x0a\x02" * 40), ("e", b"")):
        with pytest.raises(tfc.NotACheckpointError) as info:
            tfc.load_checkpoint(_write(tmp_path, data, name))
        assert info.value.path == str(tmp_path / name)
        assert ("without '.meta'" in str(info.value)) == name.endswith(".meta")
    # A V1 file cut short is indistinguishable, and says so.
    cut = _write(tmp_path, _FUZZ_BASE[:-3], "cut")
    with pytest.raises(tfc.NotACheckpointError, match="truncated"):
        tfc.load_checkpoint(cut)


def test_windows_state_file_naming_a_v1_pattern(tmp_path: Path) -> None:
    """A state file written on Windows by the V1 Saver (sharded=True): the absolute path
    cannot exist here, its last component is found inside the directory."""
    src = TESTDATA / "v1_format" / "sharded"
    for f in ("model.ckpt-00000-of-00002", "model.ckpt-00001-of-00002"):
        shutil.copy(src / f, tmp_path)
    (tmp_path / "checkpoint").write_text(
        'model_checkpoint_path: "C:\\\\Users\\\\me\\\\run\\\\model.ckpt-?????-of-00002"\n'
    )
    assert tfc.latest_checkpoint(tmp_path) == str(tmp_path / "model.ckpt-?????-of-00002")
    with tfc.load_checkpoint(tmp_path) as r:
        assert len(r) == 17


def test_glob_characters_in_a_real_file_name(tmp_path: Path) -> None:
    path = _write(tmp_path, build_v1([whole("v", "int8", np.array([-3], np.int8))]), "run[1].ckpt")
    assert tfc.load(path)["v"].tolist() == [-3]


@pytest.mark.parametrize(
    "layout",
    [
        "variables",
        "saved_model_variables",
        "variables-00000-of-00001",
        "saved_model_variables-00000-of-00001",
    ],
)
def test_early_savedmodel_layouts(tmp_path: Path, layout: str) -> None:
    """SavedModels of 2016 kept a V1 checkpoint under `variables/`."""
    (tmp_path / "saved_model.pb").write_bytes(b"")
    (tmp_path / "variables").mkdir()
    data = build_v1([whole("a", "float32", np.array(0.5, np.float32))])
    (tmp_path / "variables" / layout).write_bytes(data)
    with tfc.load_checkpoint(tmp_path) as r:
        assert r.format == "v1"
        assert r["a"].tolist() == 0.5
