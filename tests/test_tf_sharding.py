"""Live TF 2.21: sharded saves (MaxShardSizePolicy) byte-identical to TF's, and TF reads ours."""

from __future__ import annotations

import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._sharding import CheckpointOptions, MaxShardSizePolicy

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")
from tests.test_tf_objects import _tf_checkpoint  # noqa: E402

pytestmark = pytest.mark.tf


def _dir_bytes(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _smallest_slice(v: np.ndarray[Any, Any]) -> int:
    """Bytes of the smallest hyperplane (what one shard must hold for TF not to hang)."""
    if v.ndim == 0 or v.size == 0:
        return 0
    elem = max(len(x) for x in v.reshape(-1)) if v.dtype == object else v.dtype.itemsize
    return int(v.size // max(v.shape) * elem)


_DTYPES = [np.float32, np.int64, np.bool_, np.float16, np.int8, np.complex64, object]


@st.composite
def _arrays(draw: st.DrawFn) -> np.ndarray[Any, Any]:
    dt = draw(st.sampled_from(_DTYPES))
    rank = draw(st.integers(0, 3)) if dt is not object else draw(st.integers(0, 1))
    shape = tuple(draw(st.lists(st.integers(1, 5), min_size=rank, max_size=rank)))
    n = math.prod(shape)
    if dt is object:
        vals = draw(st.lists(st.binary(max_size=12), min_size=n, max_size=n))
        out = np.empty(n, dtype=object)
        out[:] = vals
        return out.reshape(shape)
    raw = draw(st.binary(min_size=n * np.dtype(dt).itemsize, max_size=n * np.dtype(dt).itemsize))
    arr = np.frombuffer(raw, dtype=np.uint8).copy()
    if dt is np.bool_:
        return (arr % 2).astype(np.bool_).reshape(shape)
    return arr.view(dt).reshape(shape)


_trees = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d", "e"]),
    st.one_of(_arrays(), st.dictionaries(st.sampled_from(["x", "y", "z"]), _arrays(), max_size=3)),
    min_size=1,
    max_size=4,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(tree=_trees, data=st.data())
def test_random_trees_sharded_byte_identical_to_tf(
    tmp_path: Path, tree: dict[str, Any], data: st.DataObject
) -> None:
    leaves = [v for x in tree.values() for v in (x.values() if isinstance(x, dict) else [x])]
    if any(v.size == 0 for v in leaves):
        return
    floor = max([_smallest_slice(v) for v in leaves] + [1])
    size = data.draw(st.integers(floor, max(floor, 4 * sum(v.nbytes for v in leaves))))
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    theirs = _tf_checkpoint(tree).write(
        str(d / "tf" / "ck"),
        options=tf.train.CheckpointOptions(
            experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(size)
        ),
    )
    opts = CheckpointOptions(experimental_sharding_callback=MaxShardSizePolicy(size))
    tfc.Checkpoint(**tree).write(d / "ours" / "ck", opts, fsync=False)
    assert _dir_bytes(d / "ours") == _dir_bytes(d / "tf")
    if not any(v.dtype == np.float16 and v.ndim for v in leaves):
        # (TF's RestoreV2 cannot read float16 slices back: "Dtype half not supported")
        _tf_checkpoint(tree).read(theirs).assert_consumed()
    back = tfc.load_tree(theirs)
    for k, v in tree.items():
        got = back[k]
        for name, leaf in v.items() if isinstance(v, dict) else [("", v)]:
            assert np.array_equal(
                got[name] if name else got, leaf, equal_nan=leaf.dtype.kind in "fc"
            )
    shutil.rmtree(d)


def test_fixed_tree_many_sizes_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tree = {
        "m": {
            "a": rng.standard_normal((4, 6)).astype(np.float32),
            "b": np.arange(10, dtype=np.int64),
            "s": np.array([b"hello", b"x", b"world!!"], dtype=object),
            "z": np.float32(3.0),
            "c3": rng.standard_normal((3, 2, 2)),
            "big": np.array(b"y" * 90, dtype=object),  # a scalar larger than a shard
            "bo": np.ones((5, 3), bool),
        },
        "k": np.int64(4),
    }
    shards = set()
    for n in (32, 33, 40, 50, 64, 77, 100, 128, 300, 10**6):
        opts = tf.train.CheckpointOptions(
            experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(n)
        )
        _tf_checkpoint(tree).write(str(tmp_path / f"tf{n}" / "ck"), options=opts)
        ours = CheckpointOptions(experimental_sharding_callback=MaxShardSizePolicy(n))
        tfc.Checkpoint(**tree).write(tmp_path / f"ours{n}" / "ck", ours, fsync=False)
        got = _dir_bytes(tmp_path / f"ours{n}")
        assert got == _dir_bytes(tmp_path / f"tf{n}"), n
        shards.add(len(got) - 1)
    assert len(shards) >= 8  # from 1 to 12 data files


def test_tf_reads_sharded_name_based_save(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    tensors: dict[str, Any] = {
        "emb": rng.standard_normal((100, 16)).astype(np.float32),
        "bias": rng.standard_normal(16).astype(np.float32),
        "vocab": np.array([b"a", b"bb", b"ccc"] * 10, dtype=object),
        "step": np.int64(12),
    }
    opts = CheckpointOptions(experimental_sharding_callback=MaxShardSizePolicy(1000))
    p = tfc.save(tmp_path / "m", tensors, options=opts)
    r = tf.train.load_checkpoint(p)
    assert sorted(r.get_variable_to_shape_map()) == sorted(tensors)
    for k, v in tensors.items():
        assert np.array_equal(r.get_tensor(k), v), k
    assert len(list(tmp_path.glob("m.data-*"))) > 6
