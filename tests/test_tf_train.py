"""Live TF 2.21: `tfckpt_lite.train` has tf.train's names and signatures and behaves alike
(CheckpointManager managing TF's own Checkpoint, init_from_checkpoint's assignment maps,
checkpoints_iterator, the module-level helpers, error classes)."""

from __future__ import annotations

import inspect
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
import tfckpt_lite.train as train

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf

_V1_ONLY = (
    "checkpoint_exists",
    "get_checkpoint_mtimes",
    "remove_checkpoint",
    "generate_checkpoint_state_proto",
    "update_checkpoint_state",
    "init_from_checkpoint",
    "NewCheckpointReader",
)


def _tf_function(name: str) -> Any:
    if name == "wait_for_new_checkpoint":
        from tensorflow.python.training import checkpoint_utils

        return checkpoint_utils.wait_for_new_checkpoint
    return getattr(tf.compat.v1.train if name in _V1_ONLY else tf.train, name)


@pytest.mark.parametrize(
    "name",
    [
        "CheckpointManager",
        "CheckpointOptions",
        "checkpoints_iterator",
        "wait_for_new_checkpoint",
        "get_checkpoint_state",
        "latest_checkpoint",
        "list_variables",
        "load_checkpoint",
        "load_variable",
        *_V1_ONLY,
    ],
)
def test_signatures_start_with_tfs(name: str) -> None:
    theirs = list(inspect.signature(_tf_function(name)).parameters.values())
    ours = list(inspect.signature(getattr(train, name)).parameters.values())
    assert [(p.name, p.default) for p in ours[: len(theirs)]] == [
        (p.name, p.default) for p in theirs
    ]
    # anything we add comes after TF's and is optional
    assert all(p.default is not inspect.Parameter.empty for p in ours[len(theirs) :])


def test_sharding_names() -> None:
    assert train.experimental.MaxShardSizePolicy is tfc.MaxShardSizePolicy
    theirs = inspect.signature(tf.train.experimental.MaxShardSizePolicy).parameters
    assert list(inspect.signature(train.experimental.MaxShardSizePolicy).parameters) == list(theirs)


def test_manager_manages_tfs_own_checkpoint(tmp_path: Path) -> None:
    v = tf.Variable(np.arange(3, dtype=np.float32))
    ck = tf.train.Checkpoint(v=v)
    mgr = train.CheckpointManager(ck, tmp_path, max_to_keep=2)
    for i in range(3):
        v.assign(np.full(3, i, np.float32))
        mgr.save()
    assert [os.path.basename(p) for p in mgr.checkpoints] == ["ckpt-2", "ckpt-3"]
    assert int(ck.save_counter.numpy()) == 3
    tf_mgr = tf.train.CheckpointManager(ck, str(tmp_path), max_to_keep=2)
    assert tf_mgr.checkpoints == mgr.checkpoints
    # restore_or_initialize through our manager into a fresh TF checkpoint
    v2 = tf.Variable(np.zeros(3, np.float32))
    mgr2 = train.CheckpointManager(tf.train.Checkpoint(v=v2), tmp_path, max_to_keep=2)
    assert mgr2.restore_or_initialize() == mgr.latest_checkpoint
    assert v2.numpy().tolist() == [2.0, 2.0, 2.0]


def _tf1_init(
    ckpt: str, assignment_map: dict[str, str], shapes: dict[str, tuple[int, ...]], parts: set[str]
) -> dict[str, np.ndarray[Any, Any]]:
    """Run TF1's init_from_checkpoint in a graph; the variables' values afterwards."""
    g = tf.Graph()
    with g.as_default():
        made = {}
        for name, shape in shapes.items():
            scope, _, short = name.rpartition("/")
            with tf.compat.v1.variable_scope(scope or "", reuse=tf.compat.v1.AUTO_REUSE):
                made[name] = tf.compat.v1.get_variable(
                    short,
                    shape=shape,
                    dtype=tf.float32,
                    initializer=tf.compat.v1.zeros_initializer(),
                    partitioner=tf.compat.v1.fixed_size_partitioner(2) if name in parts else None,
                )
        tf.compat.v1.train.init_from_checkpoint(ckpt, assignment_map)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            return {n: np.asarray(sess.run(tf.convert_to_tensor(v))) for n, v in made.items()}


@pytest.mark.parametrize(
    "assignment_map",
    [
        {"old/": "new/"},
        {"/": "new/"},
        {"old/w": "new/w", "old/b": "new/b"},
        {"old/inner/": "new/inner/"},
    ],
)
def test_init_from_checkpoint_matches_tf1(tmp_path: Path, assignment_map: dict[str, str]) -> None:
    rng = np.random.default_rng(0)
    stored = {
        "old/w": rng.standard_normal((4, 3)).astype(np.float32),
        "old/b": rng.standard_normal(3).astype(np.float32),
        "old/inner/k": rng.standard_normal((2, 2)).astype(np.float32),
        "w": rng.standard_normal((4, 3)).astype(np.float32),
        "b": rng.standard_normal(3).astype(np.float32),
        "inner/k": rng.standard_normal((2, 2)).astype(np.float32),
    }
    ckpt = tfc.save(tmp_path / "m", stored)
    if "/" in assignment_map:
        shapes = {"new/w": (4, 3), "new/b": (3,), "new/inner/k": (2, 2)}
    elif "old/inner/" in assignment_map:
        shapes = {"new/inner/k": (2, 2)}
    else:
        shapes = {"new/w": (4, 3), "new/b": (3,)}
    if "old/" in assignment_map:
        shapes = {"new/w": (4, 3), "new/b": (3,), "new/inner/k": (2, 2)}
    theirs = _tf1_init(ckpt, assignment_map, shapes, {"new/w"})
    ours = {n: np.zeros(s, np.float32) for n, s in shapes.items()}
    parts = {
        "new/w/part_0": np.zeros((2, 3), np.float32),
        "new/w/part_1": np.zeros((2, 3), np.float32),
    }
    variables = {**{n: a for n, a in ours.items() if n != "new/w"}, **parts}
    train.init_from_checkpoint(ckpt, assignment_map, variables)
    ours["new/w"] = np.concatenate([parts["new/w/part_0"], parts["new/w/part_1"]])
    for n in shapes:
        assert np.array_equal(ours[n], theirs[n]), n


def test_init_from_checkpoint_errors_like_tf(tmp_path: Path) -> None:
    ckpt = tfc.save(tmp_path / "m", {"old/w": np.ones((2, 2), np.float32)})
    w = np.zeros((2, 2), np.float32)
    with pytest.raises(ValueError, match="Tensor old/x is not found"):
        train.init_from_checkpoint(ckpt, {"old/x": "new/w"}, {"new/w": w})
    with pytest.raises(ValueError, match="should map to scope only"):
        train.init_from_checkpoint(ckpt, {"old/w": "new/"}, {"new/w": w})
    bad = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="doesn't match with shape"):
        train.init_from_checkpoint(ckpt, {"old/w": "new/w"}, {"new/w": bad})
    # stricter than TF (which does nothing): a scope holding no variable is a typo
    with pytest.raises(ValueError, match="no variable under scope 'x/'"):
        train.init_from_checkpoint(ckpt, {"old/w": "new/w", "old/": "x/"}, {"new/w": w})
    assert not w.any()  # the first, valid entry was not applied either


def test_module_functions(tmp_path: Path) -> None:
    ck = tf.train.Checkpoint(v=tf.Variable(1.0))
    p = ck.save(str(tmp_path / "ck"))
    assert train.checkpoint_exists(p) == tf.compat.v1.train.checkpoint_exists(p)
    assert not train.checkpoint_exists(str(tmp_path / "nope"))
    assert train.get_checkpoint_mtimes([p]) == tf.compat.v1.train.get_checkpoint_mtimes([p])
    st = train.generate_checkpoint_state_proto(str(tmp_path), p, [p])
    theirs = tf.compat.v1.train.generate_checkpoint_state_proto(str(tmp_path), p, [p])
    assert st.model_checkpoint_path == theirs.model_checkpoint_path
    assert st.all_model_checkpoint_paths == list(theirs.all_model_checkpoint_paths)
    train.update_checkpoint_state(str(tmp_path), p, None, "other_state")
    assert train.latest_checkpoint(tmp_path, "other_state") == tf.train.latest_checkpoint(
        str(tmp_path), "other_state"
    )
    # checkpoints_iterator: the existing one, then nothing new within the timeout
    start = time.time()
    assert list(train.checkpoints_iterator(tmp_path, timeout=0.3)) == [p]
    assert time.time() - start < 5
    train.remove_checkpoint(p)
    assert not tf.compat.v1.train.checkpoint_exists(p)


def test_error_names_and_messages(tmp_path: Path) -> None:
    p = tfc.save(tmp_path / "m", {"v1": 1, "v2": 2})
    with pytest.raises(tf.errors.NotFoundError) as theirs:
        tf.train.load_checkpoint(p).get_tensor("v3")
    with pytest.raises(tfc.errors.NotFoundError) as ours:
        tfc.load_checkpoint(p).get_tensor("v3")
    assert "Key v3 not found in checkpoint" in str(theirs.value)
    assert "Key v3 not found in checkpoint" in str(ours.value)
    assert isinstance(ours.value, KeyError) and isinstance(ours.value, tfc.CheckpointError)
    assert ours.value.error_code == theirs.value.error_code
    with pytest.raises(FileNotFoundError):
        tfc.load_checkpoint(tmp_path / "missing")
    assert issubclass(tfc.errors.DataLossError, ValueError)
    assert tfc.errors.DataLossError.error_code == tf.errors.DATA_LOSS
    assert tfc.errors.InvalidArgumentError.error_code == tf.errors.INVALID_ARGUMENT


def test_dtype_attributes_match_tf() -> None:
    from tensorflow.python.framework import dtypes

    from tfckpt_lite._dtypes import dtype_from_enum

    names = ["is_floating", "is_integer", "is_complex", "is_bool", "is_quantized", "is_unsigned"]
    names += ["size", "as_datatype_enum", "name"]
    for enum in range(1, 34):
        theirs, ours = dtypes.as_dtype(enum), dtype_from_enum(enum)
        for attr in names:
            assert getattr(ours, attr) == getattr(theirs, attr), (theirs.name, attr)
        assert ours.real_dtype.name == theirs.real_dtype.name
        assert ours.base_dtype is ours
        for attr in ("min", "max"):
            try:
                want = getattr(theirs, attr)
            except TypeError:
                with pytest.raises(TypeError):
                    getattr(ours, attr)
                continue
            got = getattr(ours, attr)
            assert got == want and type(got) is type(want), (theirs.name, attr, got, want)
        if not theirs.is_quantized and theirs.name not in ("resource", "variant"):
            assert ours.as_numpy_dtype is theirs.as_numpy_dtype, theirs.name
    assert dtype_from_enum(101).base_dtype.name == "float32"


def test_debug_string_and_reader_from_path(tmp_path: Path) -> None:
    import tests._tfutil as tu
    from tfckpt_lite._dtypes import dtype_from_enum

    rng = np.random.default_rng(3)
    tensors = {f"t/{n}": tu.random_array(n, (2, 1), rng) for n in tu.FIXED_DTYPES}
    tensors["s"] = np.array(b"x", dtype=object)
    p = tfc.save(tmp_path / "m", tensors)
    theirs = tf.train.load_checkpoint(p).debug_string()
    assert tfc.CheckpointReader(p).debug_string() == theirs
    assert dtype_from_enum(1).name == "float32"


def test_load_skips_iterator_state_with_a_warning(tmp_path: Path) -> None:
    it = iter(tf.data.Dataset.range(5))
    next(it)
    p = tf.train.Checkpoint(it=it, w=tf.Variable(np.ones(2, np.float32))).write(
        str(tmp_path / "ck")
    )
    with pytest.warns(UserWarning, match="skipped 1 entries .*it/"):
        got = tfc.load(p)
    assert got["w/.ATTRIBUTES/VARIABLE_VALUE"].tolist() == [1.0, 1.0]
    with pytest.raises(tfc.UnsupportedCheckpointError):
        tfc.load_checkpoint(p)[next(k for k in tfc.load_checkpoint(p) if k.startswith("it/"))]


@pytest.mark.parametrize(
    "prefix", ["P", "P-?????-of-00002", "P-0000[01]-of-00002", "v2-*", "v2-1", "sub", "nope"]
)
def test_checkpoint_exists_and_mtimes_match_tf(tmp_path: Path, prefix: str) -> None:
    """V1 sharded patterns, V2 prefixes (literal or a pattern), a directory and nothing:
    what `tf.compat.v1.train` finds, and the modification time it reports."""
    for i in range(2):
        shard = tmp_path / f"P-0000{i}-of-00002"
        shard.write_bytes(b"v1 shard")
        os.utime(shard, (1_700_000_000.5, 1_700_000_000.5))
    tfc.save(tmp_path / "v2-1", {"w": np.ones(2, np.float32)})
    (tmp_path / "sub").mkdir()
    p = str(tmp_path / prefix)
    assert train.checkpoint_exists(p) == tf.compat.v1.train.checkpoint_exists(p)
    assert train.get_checkpoint_mtimes([p]) == tf.compat.v1.train.get_checkpoint_mtimes([p])
