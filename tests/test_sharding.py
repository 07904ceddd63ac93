"""Multi-shard writing (MaxShardSizePolicy, custom callbacks, BundleWriter.new_shard) without TF.

The byte-for-byte comparison with TF's sharded saves is in test_tf_sharding.py; here the
splits TF's algorithm makes for small cases (worked out by hand from it), read-back and the
choices made where TF fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._dtypes import dtype_of_array
from tfckpt_lite._sharding import (
    CheckpointOptions,
    MaxShardSizePolicy,
    ShardableTensor,
    ShardingCallback,
    shard_tensors,
)
from tfckpt_lite._slices import format_slice_spec, parse_shape_and_slice
from tfckpt_lite._writer import write_shards


def _st(key: str, arr: Any) -> ShardableTensor:
    a = np.asarray(arr)
    return ShardableTensor(a, dtype_of_array(a), a.shape, "", key)


def _specs(shards: list[Any]) -> list[dict[str, list[str]]]:
    return [{k: list(v) for k, v in s.items()} for s in shards]


def _opts(n: int) -> CheckpointOptions:
    return CheckpointOptions(experimental_sharding_callback=MaxShardSizePolicy(n))


def test_split_of_a_matrix_follows_tfs_choices() -> None:
    # (4, 6) float32 = 96 bytes, 40 per shard (TF 2.21 also writes 3 files here):
    #  - cutting rows needs 4 pieces, columns 3: 2 columns (32 bytes) go in, 8 bytes are left;
    #  - the 4 x 4 rest: no row (16 bytes) or column (16) fits in 8: a new shard of 40;
    #  - 2 rows of the rest (32 bytes) go in; 8 left, the 2 x 4 rest (32) does not fit;
    #    a column of it (8 bytes) fills the shard exactly;
    #  - the last 2 x 3 (24 bytes) fits in the next shard.
    a = np.arange(24, dtype=np.float32).reshape(4, 6)
    shards = MaxShardSizePolicy(40)([_st("a", a)])
    assert _specs(shards) == [
        {"a": ["4 6 0,4:0,2"]},
        {"a": ["4 6 0,2:2,4", "4 6 2,2:2,1"]},
        {"a": ["4 6 2,2:3,3"]},
    ]
    assert np.array_equal(shards[1]["a"]["4 6 0,2:2,4"], a[0:2, 2:6])


def test_small_tensors_pack_and_scalars_move_on() -> None:
    shards = MaxShardSizePolicy(16)(
        [
            _st("a", np.zeros(2, np.float32)),  # 8 bytes
            _st("b", np.float64(1)),  # 8: fills the shard exactly
            _st("c", np.int32(1)),  # scalar: does not fit the 0 left, new shard
            _st("big", np.array(b"x" * 40, dtype=object)),  # larger than a shard: own, last
            _st("d", np.zeros(3, np.int32)),  # 12 bytes: fits with c
        ]
    )
    assert _specs(shards) == [
        {"a": ["2 0,2"], "b": [""]},
        {"c": [""], "d": ["3 0,3"]},
        {"big": [""]},
    ]


def test_written_shards_read_back_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tensors: dict[str, Any] = {
        "emb": rng.standard_normal((37, 9)).astype(np.float32),
        "w3": rng.standard_normal((3, 4, 5)),
        "s": np.array([b"abc", b"", b"defgh" * 9], dtype=object),
        "n": np.int64(-5),
        "flag": np.ones((7, 2), bool),
    }
    p = tfc.save(tmp_path / "m", tensors, options=_opts(100), fsync=False)
    data = sorted(x.name for x in tmp_path.iterdir() if ".data-" in x.name)
    assert len(data) > 5 and all(name.endswith(f"-of-{len(data):05d}") for name in data)
    assert all((tmp_path / name).stat().st_size <= 100 for name in data)
    assert not [x for x in tmp_path.iterdir() if "tempstate" in x.name]
    with tfc.load_checkpoint(p) as r:
        assert sorted(r) == sorted(tensors)
        for k, v in tensors.items():
            assert np.array_equal(r[k], v), k
        r.verify()
        # writable results: fill one as a training loop would
        emb = r["emb"]
        emb[0, 0] = 1.0


def test_zero_element_tensor_is_kept(tmp_path: Path) -> None:
    # TF 2.21 leaves such tensors out of a sharded save (a restore then misses them).
    p = tfc.save(
        tmp_path / "m",
        {"a": np.ones(10, np.float32), "e": np.zeros((0, 3), np.float32)},
        options=_opts(16),
        fsync=False,
    )
    with tfc.load_checkpoint(p) as r:
        assert r["e"].shape == (0, 3)


def test_no_hyperplane_fits_is_an_error_not_a_hang(tmp_path: Path) -> None:
    # TF 2.21 loops forever on this (each row and each column is 8 bytes).
    with pytest.raises(ValueError, match=r"'a'.*8 bytes.*max_shard_size=4"):
        tfc.save(tmp_path / "m", {"a": np.ones((2, 2), np.float32)}, options=_opts(4))
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_write_with_options_keeps_graph_readable(tmp_path: Path) -> None:
    tree: dict[str, Any] = {
        "layer": {"k": np.arange(60, dtype=np.float32).reshape(6, 10)},
        "step": np.int64(3),
    }
    p = tfc.Checkpoint(**tree).write(tmp_path / "ck", _opts(64), fsync=False)
    back = tfc.load_tree(p)
    assert np.array_equal(back["layer"]["k"], tree["layer"]["k"])
    # positional options, as tf.train.Checkpoint.save(file_prefix, options)
    q = tfc.Checkpoint(**tree).save(tmp_path / "run" / "ck", _opts(64), fsync=False)
    assert tfc.latest_checkpoint(tmp_path / "run") == q


def test_policy_and_options_refuse_bad_arguments() -> None:
    with pytest.raises(ValueError, match="positive"):
        MaxShardSizePolicy(0)
    with pytest.raises(TypeError, match="max_shard_size"):
        MaxShardSizePolicy("1GB")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ShardingCallback"):
        CheckpointOptions(experimental_sharding_callback=lambda ts: [ts])  # type: ignore[arg-type]


class _DropLast(ShardingCallback):
    @property
    def description(self) -> str:
        return "drops a tensor"

    def __call__(self, shardable_tensors: Any) -> Any:
        return [{t.checkpoint_key: {"": t.tensor}} for t in shardable_tensors[:-1]]


class _OnePerFile(ShardingCallback):
    @property
    def description(self) -> str:
        return "one tensor per file"

    def __call__(self, shardable_tensors: Any) -> Any:
        return [{t.checkpoint_key: {t.slice_spec: t.tensor}} for t in shardable_tensors]


def test_custom_callbacks_are_checked_and_written(tmp_path: Path) -> None:
    ts = [_st("a", np.ones(3, np.float32)), _st("b", np.zeros(2, np.int8))]
    with pytest.raises(RuntimeError, match="did not return all of 'b'"):
        shard_tensors(ts, _DropLast())
    opts = CheckpointOptions(experimental_sharding_callback=_OnePerFile())
    p = tfc.save(tmp_path / "m", {"a": np.ones(3, np.float32), "b": 7}, options=opts)
    assert len([x for x in tmp_path.iterdir() if ".data-" in x.name]) == 2
    assert tfc.load(p)["b"] == 7


def test_new_shard_and_write_shards_primitive(tmp_path: Path) -> None:
    a = np.arange(12, dtype=np.int16).reshape(4, 3)
    p = write_shards(
        tmp_path / "m",
        [{"a": {"4 3 0,1:0,3": a[:1]}}, {}, {"a": {"4 3 1,3:0,3": a[1:]}, "s": {"": b"x"}}],
        fsync=False,
    )
    names = sorted(x.name for x in tmp_path.iterdir())
    assert names == ["m.data-00000-of-00003", "m.data-00001-of-00003", "m.data-00002-of-00003",
                     "m.index"]  # fmt: skip
    assert (tmp_path / "m.data-00001-of-00003").stat().st_size == 0
    with tfc.load_checkpoint(p) as r:
        assert np.array_equal(r["a"], a) and r["s"] == b"x"


def test_slice_specs_round_trip() -> None:
    spec = format_slice_spec((4, 6), (1, 0), (2, 6))
    assert spec == "4 6 1,2:0,6"
    assert parse_shape_and_slice(spec) == ((4, 6), [(1, 2), (0, 6)])
    assert parse_shape_and_slice("4 6 -:1,2") == ((4, 6), [(0, 4), (1, 2)])
    with pytest.raises(ValueError, match="does not fit"):
        parse_shape_and_slice("4 6 3,2:0,6")
    with pytest.raises(ValueError, match="malformed"):
        parse_shape_and_slice("4 6 x")
