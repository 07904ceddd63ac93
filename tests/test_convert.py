"""Checkpoint <-> .safetensors / .npz conversion."""

from __future__ import annotations

import importlib.util
import json
import struct
import tracemalloc
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._convert import UnsupportedConversionError, read_safetensors_header

DTYPES = [
    np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.float16, np.int32, np.uint32,
    np.float32, np.float64, np.int64, np.uint64, np.complex64,
    ml_dtypes.bfloat16, ml_dtypes.float8_e5m2, ml_dtypes.float8_e4m3fn,
]  # fmt: skip

ST_CODE = {
    "bool": "BOOL", "uint8": "U8", "int8": "I8", "int16": "I16", "uint16": "U16",
    "float16": "F16", "int32": "I32", "uint32": "U32", "float32": "F32", "float64": "F64",
    "int64": "I64", "uint64": "U64", "complex64": "C64", "bfloat16": "BF16",
    "float8_e5m2": "F8_E5M2", "float8_e4m3fn": "F8_E4M3",
}  # fmt: skip


def sample(dtype: Any, shape: tuple[int, ...], seed: int = 0) -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    raw = rng.integers(0, 256, size=n * np.dtype(dtype).itemsize, dtype=np.uint8)
    arr: np.ndarray[Any, Any] = raw.view(dtype).reshape(shape)
    if np.dtype(dtype) == np.bool_:
        arr = (raw % 2).astype(np.bool_).reshape(shape)
    return arr


def assert_same(a: np.ndarray[Any, Any], b: np.ndarray[Any, Any]) -> None:
    assert a.dtype == b.dtype and a.shape == b.shape
    assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes()


@pytest.fixture
def tensors() -> dict[str, np.ndarray[Any, Any]]:
    return {f"t/{np.dtype(d).name}": sample(d, (3, 2), i) for i, d in enumerate(DTYPES)} | {
        "empty": np.zeros((0, 5), np.float32),
        "scalar": np.array(3.5, np.float64),
    }


def test_safetensors_bytes_are_exact(tmp_path: Path) -> None:
    """Known bytes: header length, JSON, 8-byte aligned padding, then raw data in key order."""
    tfc.save(
        tmp_path / "c",
        {"b": np.array([1, 2], np.int16), "a": np.float32(1.5) * np.ones(1).astype(np.float32)},
    )
    rep = tfc.to_safetensors(tmp_path / "c", tmp_path / "c.safetensors")
    assert rep.written == ["a", "b"] and not rep.skipped
    raw = (tmp_path / "c.safetensors").read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8 : 8 + n])
    assert header == {
        "__metadata__": {"format": "pt"},
        "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
        "b": {"dtype": "I16", "shape": [2], "data_offsets": [4, 8]},
    }
    assert raw[8 + n :] == struct.pack("<f", 1.5) + struct.pack("<hh", 1, 2)


def test_round_trip_all_dtypes(tmp_path: Path, tensors: dict[str, np.ndarray[Any, Any]]) -> None:
    tfc.save(tmp_path / "src", tensors)
    tfc.to_safetensors(tmp_path / "src", tmp_path / "x.safetensors")
    tfc.from_safetensors(tmp_path / "x.safetensors", tmp_path / "back")
    got = tfc.load(tmp_path / "back")
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        assert_same(got[k], v)
    tfc.to_npz(tmp_path / "src", tmp_path / "x.npz")
    tfc.from_npz(tmp_path / "x.npz", tmp_path / "back2")
    got = tfc.load(tmp_path / "back2")
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        assert_same(got[k], v)
    # The npz is a plain NumPy archive: native dtypes load with np.load, no pickle.
    with np.load(tmp_path / "x.npz", allow_pickle=False) as z:
        assert_same(z["t/float32"], tensors["t/float32"])
        assert json.loads(str(z["__tfckpt_lite_dtypes__"]))["t/bfloat16"] == "bfloat16"


def test_unsupported_types_skipped_or_strict(tmp_path: Path) -> None:
    tfc.save(
        tmp_path / "c",
        {
            "s": [b"x", b"y"],
            "c": np.ones(2, np.complex128),
            "i4": np.ones(2, ml_dtypes.int4),
            "ok": np.ones(2, np.float32),
        },
    )
    rep = tfc.to_safetensors(tmp_path / "c", tmp_path / "o.safetensors")
    assert rep.written == ["ok"]
    assert set(rep.skipped) == {"s", "c", "i4"}
    assert "complex128" in rep.skipped["c"]
    with pytest.raises(UnsupportedConversionError, match="complex128") as ei:
        tfc.to_safetensors(tmp_path / "c", tmp_path / "strict.safetensors", strict=True)
    assert ei.value.key == "c"  # the first unsupported key in sorted order
    assert not (tmp_path / "strict.safetensors").exists()
    assert not list(tmp_path.glob("strict.safetensors*"))  # no temp debris
    rep = tfc.to_npz(tmp_path / "c", tmp_path / "o.npz")
    assert sorted(rep.written) == ["c", "i4", "ok"] and list(rep.skipped) == ["s"]
    with pytest.raises(UnsupportedConversionError):
        tfc.to_npz(tmp_path / "c", tmp_path / "strict.npz", strict=True)
    assert not list(tmp_path.glob("strict.npz*"))


def test_object_graph_travels_in_metadata(tmp_path: Path) -> None:
    graph = bytes(range(256)) * 3
    tfc.save(tmp_path / "c", {"_CHECKPOINTABLE_OBJECT_GRAPH": graph, "v": np.ones(3)})
    rep = tfc.to_safetensors(tmp_path / "c", tmp_path / "o.safetensors")
    assert rep.written == ["v"] and not rep.skipped
    tfc.from_safetensors(tmp_path / "o.safetensors", tmp_path / "back")
    with tfc.load_checkpoint(tmp_path / "back") as r:
        assert r["_CHECKPOINTABLE_OBJECT_GRAPH"].item() == graph


def test_numpy_scalars_keep_their_dtype(tmp_path: Path) -> None:
    """Core fix: np.float64(x) is a Python float subclass, but TF saves it as float64."""
    tfc.save(tmp_path / "c", {"d": np.float64(3.5), "i": np.int64(1), "f": 2.5})
    got = tfc.load(tmp_path / "c")
    assert got["d"].dtype == np.float64 and got["i"].dtype == np.int64
    assert got["f"].dtype == np.float32


def _st_file(path: Path, header: dict[str, Any], data: bytes, pad: bool = True) -> Path:
    blob = json.dumps(header).encode()
    if pad:
        blob += b" " * (-len(blob) % 8)
    path.write_bytes(struct.pack("<Q", len(blob)) + blob + data)
    return path


@pytest.mark.parametrize(
    ("header", "data", "match"),
    [
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "needs 8"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8, "cover 4"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "starts at 4"),
        ({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4, "dtype"),
        ({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "shape"),
        ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 99]}}, b"\0" * 4, "offsets"),
        (
            {
                "a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                "b": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
            },
            b"\0" * 4,
            "overlap",
        ),
        ({"__metadata__": {"k": 1}}, b"", "__metadata__"),
    ],
)
def test_invalid_safetensors_rejected(
    tmp_path: Path, header: dict[str, Any], data: bytes, match: str
) -> None:
    p = _st_file(tmp_path / "bad.safetensors", header, data)
    with pytest.raises(tfc.CorruptCheckpointError, match=match):
        tfc.from_safetensors(p, tmp_path / "out")
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x05",
        struct.pack("<Q", 1 << 40) + b"{}",
        struct.pack("<Q", 4) + b"\xff\xfe{}",
        struct.pack("<Q", 2) + b"[]",
    ],
)
def test_garbage_headers(tmp_path: Path, raw: bytes) -> None:
    p = tmp_path / "g.safetensors"
    p.write_bytes(raw)
    with pytest.raises(tfc.CorruptCheckpointError):
        tfc.from_safetensors(p, tmp_path / "out")
    with pytest.raises(tfc.CorruptCheckpointError):
        read_safetensors_header(raw, len(raw), str(p))


def test_bad_npz(tmp_path: Path) -> None:
    p = tmp_path / "bad.npz"
    p.write_bytes(b"not a zip at all")
    with pytest.raises(tfc.NotACheckpointError):
        tfc.from_npz(p, tmp_path / "out")
    np.savez(tmp_path / "obj.npz", o=np.array([{"a": 1}], dtype=object))
    with pytest.raises(tfc.CorruptCheckpointError, match=r"pickle|plain"):
        tfc.from_npz(tmp_path / "obj.npz", tmp_path / "out")


def test_streaming_memory_stays_near_largest_tensor(tmp_path: Path) -> None:
    """Eight 4 MiB tensors: converting allocates far less than the 32 MiB total."""
    with tfc.BundleWriter(tmp_path / "big") as w:
        for i in range(8):
            w.add(f"t{i}", np.full((1 << 20,), i, np.float32))
    tracemalloc.start()
    try:
        tfc.to_safetensors(tmp_path / "big", tmp_path / "big.safetensors")
        _, peak_st = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        tfc.from_safetensors(tmp_path / "big.safetensors", tmp_path / "big2")
        _, peak_back = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_st < 12 << 20 and peak_back < 12 << 20, (peak_st, peak_back)
    with tfc.load_checkpoint(tmp_path / "big2") as r:
        assert r["t7"][123] == 7


@settings(max_examples=25, deadline=None)
@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=12).filter(
            lambda s: not s.startswith("\x00") and s != "__metadata__"
        ),
        st.tuples(st.sampled_from(DTYPES), st.lists(st.integers(0, 4), max_size=3)),
        max_size=6,
    )
)
def test_property_round_trip(spec: dict[str, tuple[Any, list[int]]]) -> None:
    import tempfile

    tensors = {k: sample(d, tuple(s), i) for i, (k, (d, s)) in enumerate(spec.items())}
    with tempfile.TemporaryDirectory() as td:
        tmp = Path(td)
        tfc.save(tmp / "c", tensors)
        tfc.to_safetensors(tmp / "c", tmp / "c.safetensors")
        tfc.from_safetensors(tmp / "c.safetensors", tmp / "d")
        got = tfc.load(tmp / "d")
        assert sorted(got) == sorted(tensors)
        for k, v in tensors.items():
            assert_same(got[k], v)


def test_interop_with_safetensors_package(
    tmp_path: Path, tensors: dict[str, np.ndarray[Any, Any]]
) -> None:
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    native = {k: v for k, v in tensors.items() if v.dtype.type.__module__ == "numpy"}
    tfc.save(tmp_path / "c", native)
    tfc.to_safetensors(tmp_path / "c", tmp_path / "ours.safetensors")
    theirs = safetensors_numpy.load_file(str(tmp_path / "ours.safetensors"))
    for k, v in native.items():
        assert_same(theirs[k], v)
    safetensors_numpy.save_file(native, str(tmp_path / "theirs.safetensors"))
    tfc.from_safetensors(tmp_path / "theirs.safetensors", tmp_path / "d")
    got = tfc.load(tmp_path / "d")
    for k, v in native.items():
        assert_same(got[k], v)


def test_interop_bf16_fp8_with_safetensors_torch(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    vals = {
        "bf": sample(ml_dtypes.bfloat16, (5,), 1),
        "e5": sample(ml_dtypes.float8_e5m2, (5,), 2),
        "e4": sample(ml_dtypes.float8_e4m3fn, (5,), 3),
    }
    tfc.save(tmp_path / "c", vals)
    tfc.to_safetensors(tmp_path / "c", tmp_path / "o.safetensors")
    got = st_torch.load_file(str(tmp_path / "o.safetensors"))
    assert got["bf"].dtype == torch.bfloat16 and got["e4"].dtype == torch.float8_e4m3fn
    for k, v in vals.items():
        assert got[k].view(torch.uint8).numpy().tobytes() == v.tobytes()


@pytest.mark.tf
def test_tensorflow_reads_converted_checkpoint(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    vals = {
        "layer/kernel": sample(np.float32, (3, 4), 1),
        "layer/bias": sample(ml_dtypes.bfloat16, (4,), 2),
        "count": np.array([1, 2, 3], np.int64),
    }
    tfc.save(tmp_path / "c", vals)
    tfc.to_safetensors(tmp_path / "c", tmp_path / "o.safetensors")
    tfc.from_safetensors(tmp_path / "o.safetensors", tmp_path / "back")
    tfc.to_npz(tmp_path / "c", tmp_path / "o.npz")
    tfc.from_npz(tmp_path / "o.npz", tmp_path / "back2")
    for prefix in ("back", "back2"):
        r = tf.train.load_checkpoint(str(tmp_path / prefix))
        assert sorted(r.get_variable_to_shape_map()) == sorted(vals)
        for k, v in vals.items():
            assert_same(r.get_tensor(k), v)


def test_object_graph_nesting_conflicts(tmp_path: Path) -> None:
    from tfckpt_lite._convert import _nest

    with pytest.raises(UnsupportedConversionError, match="is a tensor"):
        _nest([("a", np.ones(1)), ("a/b", np.ones(1))], "f")
    with pytest.raises(UnsupportedConversionError, match="group of tensors"):
        _nest([("a/b", np.ones(1)), ("a", np.ones(1))], "f")
    with pytest.raises(UnsupportedConversionError, match="empty path component"):
        _nest([("a//b", np.ones(1))], "f")
    tree = _nest([("m/d/kernel/.ATTRIBUTES/VARIABLE_VALUE", np.ones(1)), ("m/b", np.zeros(1))], "f")
    assert list(tree["m"]) == ["d", "b"] and list(tree["m"]["d"]) == ["kernel"]


# `.ci/run` fails when a `-m tf` test skips: this one is a `tf` test only once the package
# can write object graphs (issue 3's Checkpoint); before that it is a plain skip.
_tf_if_checkpoint = (
    pytest.mark.tf
    if importlib.util.find_spec("tfckpt_lite._checkpoint")
    else pytest.mark.skip(reason="needs tfckpt_lite._checkpoint (object graphs)")
)


@_tf_if_checkpoint
def test_object_graph_from_nested_names_restores_in_tf(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    kernel, bias, emb = (
        sample(np.float32, (3, 4), 1),
        sample(np.float32, (4,), 2),
        sample(ml_dtypes.bfloat16, (5, 2), 3),
    )
    tfc.save(tmp_path / "flat", {"model/dense/kernel": kernel, "model/dense/bias": bias,
                                 "model/emb": emb})  # fmt: skip
    tfc.to_safetensors(tmp_path / "flat", tmp_path / "m.safetensors")
    tfc.to_npz(tmp_path / "flat", tmp_path / "m.npz")
    prefix_st = tfc.from_safetensors(tmp_path / "m.safetensors", tmp_path / "og", object_graph=True)
    prefix_npz = tfc.from_npz(tmp_path / "m.npz", tmp_path / "og2", object_graph=True)
    for prefix in (prefix_st, prefix_npz):
        model = tf.Module()
        model.dense = tf.Module()
        model.dense.kernel = tf.Variable(tf.zeros([3, 4]))
        model.dense.bias = tf.Variable(tf.zeros([4]))
        model.emb = tf.Variable(tf.zeros([5, 2], tf.bfloat16))
        tf.train.Checkpoint(model=model).read(prefix).assert_consumed()
        assert_same(model.dense.kernel.numpy(), kernel)
        assert_same(model.dense.bias.numpy(), bias)
        assert_same(model.emb.numpy(), emb)


def test_model_path_names_and_reserved_names(tmp_path: Path) -> None:
    tfc.save(
        tmp_path / "c",
        {
            "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE": np.ones((2, 2), np.float32),
            "step": np.int64(3),
            "__metadata__": np.zeros(1, np.float32),
        },
    )
    rep = tfc.to_safetensors(tmp_path / "c", tmp_path / "m.safetensors", model_paths=True)
    assert rep.written == ["model/dense/kernel", "step"]
    assert "reserved" in rep.skipped["__metadata__"]
    rep = tfc.to_npz(tmp_path / "c", tmp_path / "m.npz", model_paths=True)
    with np.load(tmp_path / "m.npz") as z:
        assert sorted(z.files) == ["__metadata__", "model/dense/kernel", "step"]
    tfc.save(tmp_path / "dup", {"a/.ATTRIBUTES/VARIABLE_VALUE": np.ones(1), "a": np.ones(1)})
    with pytest.raises(UnsupportedConversionError, match="same model path"):
        tfc.to_safetensors(tmp_path / "dup", tmp_path / "d.safetensors", model_paths=True)


def test_keras3_names_by_model_path_not_optimizer_path(tmp_path: Path) -> None:
    pytest.importorskip("tfckpt_lite._graph")  # the object-graph reader (issue 3)
    src = Path(__file__).resolve().parents[1] / "testdata" / "keras3" / "ckpt"
    if not Path(str(src) + ".index").exists():
        pytest.skip("keras3 fixture not present")
    rep = tfc.to_safetensors(src, tmp_path / "k.safetensors", model_paths=True)
    # Keras 3 stores the first Dense kernel as optimizer/_trainable_variables/0 ...
    assert "model/_functional/_operations/1/_kernel" in rep.written
    assert not any(n.startswith("optimizer/_trainable_variables") for n in rep.written)
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in rep.skipped
    with tfc.load_checkpoint(src) as r:
        want = r["optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"]
    tfc.from_safetensors(tmp_path / "k.safetensors", tmp_path / "back")
    assert_same(tfc.load(tmp_path / "back")["model/_functional/_operations/1/_kernel"], want)
