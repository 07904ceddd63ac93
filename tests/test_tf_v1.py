"""Live TensorFlow: V1 checkpoints written by `tf.compat.v1.train.Saver(write_version=V1)`.

A subprocess (tests/_tf_write_v1.py; graph mode and two logical CPUs must not leak
into other tests) saves every dtype the V1 writer accepts, as [37,3] matrices of random bits
(NaN payloads included), scalars and empty [0,2] tensors, plus partitioned variables
(`fixed_size_partitioner` on rows and on columns), once as one file and once `sharded=True`
over two devices. TF's RestoreV2 kernel reads each key back; we must list the same keys,
dtypes and shapes and return bit-identical values.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._proto import tensor_pb2
from tfckpt_lite._wire import field_bytes, field_fixed32, field_varint

from ._v1_files import V1Tensor, build_v1, full_slice, tensor_proto, whole
from .canonical import canonical_digest

pytestmark = pytest.mark.tf
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module", params=[0, 1])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    pytest.importorskip("tensorflow")
    out = tmp_path_factory.mktemp(f"tf_v1_{request.param}")
    proc = subprocess.run(
        [sys.executable, str(HERE / "_tf_write_v1.py"), str(out), str(request.param)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out, result


def test_two_devices_two_shards(generated: tuple[Path, dict[str, Any]]) -> None:
    out, result = generated
    assert len(result["devices"]) == 2
    assert sorted(p.name for p in (out / "sharded").glob("model.ckpt-*")) == [
        "model.ckpt-00000-of-00002",
        "model.ckpt-00001-of-00002",
    ]
    assert set(result["checkpoints"]) == {"single/model.ckpt", "sharded/model.ckpt-?????-of-00002"}


def test_values_bit_identical(generated: tuple[Path, dict[str, Any]]) -> None:
    out, result = generated
    for prefix, tensors in result["checkpoints"].items():
        with tfc.load_checkpoint(out / prefix) as r:
            assert r.format == "v1"
            assert list(r) == list(tensors)  # TF lists sorted, as we do
            for key, t in tensors.items():
                assert r.dtype(key) == t["dtype"], key
                assert list(r.shape(key)) == t["shape"], key
                assert canonical_digest(r[key]) == t["digest"], (prefix, key)
            assert r.verify() == len(tensors)
        # Partitioned variables really are several slices, spread over both shards.
        parted = [k for k in tensors if k.startswith("parted/")]
        assert len(parted) == 5


def test_partitions_and_shards_are_real(generated: tuple[Path, dict[str, Any]]) -> None:
    out, _ = generated
    from tfckpt_lite._v1 import V1Reader

    with tfc.load_checkpoint(out / "sharded" / "model.ckpt-?????-of-00002") as r:
        backend = r._backend
        assert isinstance(backend, V1Reader)
        assert len(backend.files) == 2
        slices = {k: backend._tensors[k].slices for k in r if k.startswith("parted/")}
        assert {k: len(v) for k, v in slices.items()} == {
            "parted/complex64_5": 2,
            "parted/float32_10x4": 3,
            "parted/float64_9x5": 4,
            "parted/int32_300x2": 3,
            "parted/int64_6x7": 2,
        }
        assert {s.shard for s in slices["parted/float64_9x5"]} == {1}
        shards_used = {s.shard for k in r for s in backend._tensors[k].slices}
        assert shards_used == {0, 1}
        # Column partitions: each slice is a [6, k] block.
        cols = [s.extents[1] for s in slices["parted/int64_6x7"]]
        assert sorted(cols) == [(0, 4), (4, 3)]
        full = r["parted/int64_6x7"]
        assert (r.get_slice("parted/int64_6x7")[2:4] == full[2:4]).all()


def test_names_tf_accepts(generated: tuple[Path, dict[str, Any]]) -> None:
    out, result = generated
    for sub in ("single", "sharded"):
        expected = str(out / result["latest"][sub])
        assert tfc.latest_checkpoint(out / sub) == expected
        with tfc.load_checkpoint(out / sub) as r:
            assert r.prefix == expected
    # A bare prefix also names the sharded set (TF wants the pattern; we accept both).
    pattern = out / "sharded" / "model.ckpt-?????-of-00002"
    assert tfc.list_variables(out / "sharded" / "model.ckpt") == tfc.list_variables(pattern)
    tensors = result["checkpoints"]["sharded/model.ckpt-?????-of-00002"]
    assert tfc.list_variables(pattern) == [(k, t["shape"]) for k, t in tensors.items()]


def _one(dtype: str, shape: tuple[int, ...], proto: bytes) -> V1Tensor:
    return V1Tensor("v", dtype, shape, [(full_slice(shape), proto)])


def _edge_cases() -> list[tuple[str, V1Tensor, dict[str, Any]]]:
    """Files TF's writer would not produce, to pin down what its reader makes of them."""

    def tp(**fields: Any) -> bytes:
        return tensor_pb2.TensorProto(**fields).SerializeToString()

    ints = tp(int_val=[0x1FF, -129, 7, -(2**31)])
    narrow_types = ("int8", "uint8", "int16", "uint16", "int32", "qint8", "quint8", "qint32")
    cases: list[tuple[str, V1Tensor, dict[str, Any]]] = [
        (f"narrow_{dt}", _one(dt, (4,), ints), {}) for dt in narrow_types
    ]
    wide = field_bytes(7, b"".join(field_varint(0, v)[1:] for v in (2**40 + 5, 2**63)))
    floats_unpacked = b"".join(
        field_fixed32(5, v) for v in np.array([1.5, np.nan], np.float32).view(np.uint32).tolist()
    )
    loose_first = field_varint(10, 9) + field_bytes(10, bytes([1, 2]))
    half_row = tensor_proto("int32", np.arange(2)).SerializeToString()
    cases += [
        ("half_bits", _one("float16", (3,), tp(half_val=[0x13C00, 0x7E01, 0xFFFF])), {}),
        ("bool_2", _one("bool", (3,), field_bytes(11, b"\0\2\1")), {}),
        ("int32_wide_varint", _one("int32", (2,), wide), {}),
        ("uint32", _one("uint32", (2,), tp(uint32_val=[1, 2**32 - 1])), {}),
        ("uint64", _one("uint64", (2,), tp(uint64_val=[1, 2**64 - 1])), {}),
        ("unpacked_float", _one("float32", (2,), floats_unpacked), {}),
        ("loose_then_packed", _one("int64", (3,), loose_first), {}),
        ("no_versions", whole("v", "float64", np.array([2.5, -0.0])), {"versions": False}),
        ("too_few", _one("float32", (4,), tp(float_val=[1.0])), {}),
        ("too_many", _one("float32", (2,), tp(float_val=[1.0, 2, 3])), {}),
        ("strings_few", _one("string", (2,), tp(string_val=[b"a"])), {}),
        ("gap", V1Tensor("v", "int32", (4,), [([(0, 2)], half_row)]), {}),
        ("min_consumer", whole("v", "int32", np.arange(2, dtype=np.int32)), {"min_consumer": 5}),
    ]
    return cases


def test_edge_cases_like_tensorflow(tmp_path: Path) -> None:
    """Where TF's reader returns a value, ours is bit-identical; where TF refuses the file,
    we raise a CheckpointError."""
    pytest.importorskip("tensorflow")
    cases = _edge_cases()
    queries = []
    for name, tensor, kwargs in cases:
        file = tmp_path / name
        file.write_bytes(build_v1([tensor], **kwargs))
        queries.append((str(file), tensor.name, tensor.dtype))
    proc = subprocess.run(
        [sys.executable, str(HERE / "_tf_restore_v2.py")],
        input=json.dumps(queries),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    tf_results = json.loads(proc.stdout.strip().splitlines()[-1])
    refused = set()
    for (name, _, _), (path, key, _), tf_result in zip(cases, queries, tf_results):
        try:
            with tfc.load_checkpoint(path) as r:
                ours: dict[str, Any] = {"digest": canonical_digest(r[key])}
        except tfc.CheckpointError:
            ours = {"error": True}
        if "digest" in tf_result:
            assert ours == tf_result, name
        else:
            assert "error" in ours, name
            refused.add(name)
    assert refused == {"too_few", "too_many", "strings_few", "gap", "min_consumer"}
