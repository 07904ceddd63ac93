"""Live TF 2.21 interop for object-based checkpoints, both directions.

tf.Module trees (bytes compared with TF's own output), tf-keras models with slot variables,
Keras 3 models, SavedModel variables, the state file and CheckpointManager on one directory.
"""

from __future__ import annotations

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

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf
VV = "/.ATTRIBUTES/VARIABLE_VALUE"
_SETTINGS = settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _to_tf(v: Any, memo: dict[int, Any]) -> Any:
    """The TF twin of a tree: dicts stay dicts (_DictWrapper), lists ListWrapper, leaves
    tf.Variable; the same ndarray object twice is one variable."""
    if isinstance(v, dict):
        return {k: _to_tf(x, memo) for k, x in v.items()}
    if isinstance(v, list):
        return [_to_tf(x, memo) for x in v]
    if isinstance(v, np.ndarray) and id(v) in memo:
        return memo[id(v)]
    var = tf.Variable(v)
    if isinstance(v, np.ndarray):
        memo[id(v)] = var
    return var


def _module(tree: dict[str, Any], memo: dict[int, Any]) -> Any:
    m = tf.Module()
    for k, v in tree.items():
        setattr(m, k, _to_tf(v, memo))
    return m


def _tf_checkpoint(root: dict[str, Any]) -> Any:
    """tf.train.Checkpoint(**root) with each dict value as a tf.Module."""
    memo: dict[int, Any] = {}
    kwargs = {
        k: _module(v, memo) if isinstance(v, dict) else _to_tf(v, memo) for k, v in root.items()
    }
    return tf.train.Checkpoint(**kwargs)


def _files_equal(a: str, b: str) -> None:
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(a + suffix).read_bytes() == Path(b + suffix).read_bytes(), suffix


# -- tf.Module trees ------------------------------------------------------------------------

_names = st.text(st.sampled_from("ab./_é0ß"), min_size=1, max_size=3)
# No -0.0: TF's eager scalar-constant cache treats 0.0 and -0.0 as one key, so a tf.Variable(0.0)
# made after a tf.Variable(-0.0) in the same process holds -0.0 (a TF quirk, not a format one).
_floats = st.floats(-1e6, 1e6, width=32).map(lambda f: f + 0.0)
_leaves = st.one_of(
    _floats,
    st.integers(-(2**31), 2**31 - 1),
    st.lists(_floats, min_size=1, max_size=3).map(lambda x: np.array(x, np.float32)),
    st.binary(max_size=4),
)
_subtrees = st.recursive(
    _leaves,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(_names, kids, max_size=3)),
    max_leaves=8,
)
# Root values are tf.Modules (attributes) built from dicts; names avoid tf.Module properties.
_modules = st.dictionaries(_names.map(lambda n: "m" + n), _subtrees, max_size=3)
_roots = st.dictionaries(_names.map(lambda n: "k" + n), st.one_of(_modules, _leaves), max_size=3)


def _with_shared(root: dict[str, Any]) -> dict[str, Any]:
    """Add one ndarray reachable from two paths (a shared variable)."""
    shared = np.array([1.5, -2.0], np.float32)
    out = dict(root)
    out["zshared"] = {"first": shared, "list": [shared, {"again": shared}]}
    return out


@_SETTINGS
@given(root=_roots.map(_with_shared))
def test_random_trees_byte_identical_to_tf(tmp_path: Path, root: dict[str, Any]) -> None:
    d = Path(tempfile.mkdtemp(dir=tmp_path))
    ours = tfc.Checkpoint(**root).write(d / "ours", fsync=False)
    theirs = _tf_checkpoint(root).write(str(d / "tf"))
    _files_equal(ours, theirs)
    # and TF restores ours into a fresh twin, every value consumed
    twin = _tf_checkpoint(root)
    twin.read(ours).assert_consumed()
    # our tree reader gives back what TF wrote
    back = tfc.load_tree(theirs)
    assert set(back) == set(root)
    assert np.array_equal(back["zshared"]["list"]["1"]["again"], [1.5, -2.0])


def test_module_tree_save_restore_and_state(tmp_path: Path) -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    tree = {
        "layer": {"w": w, "b": np.zeros(3, np.float32)},
        "a.b/c": [np.int64(4), {"x/y": b"bytes", "ü": 2.5}],
        "alias": w,
    }
    ck = tfc.Checkpoint(model=tree, step=np.int64(7))
    ck.save(tmp_path / "ours" / "ck")
    p = ck.save(tmp_path / "ours" / "ck")
    tfck = _tf_checkpoint({"model": tree, "step": np.int64(7)})
    tfck.save(str(tmp_path / "tf" / "ck"))
    q = tfck.save(str(tmp_path / "tf" / "ck"))
    _files_equal(p, q)
    assert (tmp_path / "ours" / "checkpoint").read_bytes() == (
        tmp_path / "tf" / "checkpoint"
    ).read_bytes()
    w0 = np.zeros_like(w)
    fresh_tree = {**tree, "layer": {"w": w0, "b": np.ones(3, np.float32)}, "alias": w0}
    fresh = _tf_checkpoint({"model": fresh_tree, "step": np.int64(0)})
    fresh.restore(tf.train.latest_checkpoint(str(tmp_path / "ours"))).assert_consumed()
    assert np.array_equal(fresh.model.layer["w"].numpy(), w)
    assert fresh.model.alias is fresh.model.layer["w"]
    assert int(fresh.save_counter.numpy()) == 2


def test_tf_tree_paths_and_load_tree(tmp_path: Path) -> None:
    m = tf.Module()
    m.dense = tf.Module()
    m.dense.kernel = tf.Variable(np.ones((2, 2), np.float32))
    m.layers = [m.dense]
    m.cfg = {"a.b/c": tf.Variable(3)}
    prefix = tf.train.Checkpoint(model=m).write(str(tmp_path / "c"))
    g = tfc.load_checkpoint(prefix).object_graph
    assert g is not None
    key = "model/dense/kernel" + VV
    assert g.paths(key) == ["model/dense/kernel", "model/layers/0/kernel"]
    assert g.find(["model", "cfg", "a.b/c"]).value_key == "model/cfg/a..b.Sc" + VV
    t = tfc.load_tree(prefix)
    assert t["model"]["layers"]["0"] is t["model"]["dense"]
    assert t["model"]["cfg"]["a.b/c"] == 3


# -- tf-keras with slot variables -------------------------------------------------------------


def _tf_keras() -> Any:
    return pytest.importorskip("tf_keras")


def _keras2_model(k: Any, legacy: bool) -> Any:
    model = k.Sequential([k.layers.Dense(3, input_shape=(4,)), k.layers.Dense(2)])
    opt = k.optimizers.legacy.Adam() if legacy else k.optimizers.Adam()
    model.compile(optimizer=opt, loss="mse")
    return model


@pytest.mark.parametrize("legacy", [True, False])
def test_tf_keras_save_weights_edit_load_weights(tmp_path: Path, legacy: bool) -> None:
    k = _tf_keras()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)
    model = _keras2_model(k, legacy)
    model.fit(x, y, verbose=0, epochs=1)
    src = str(tmp_path / "src" / "w")
    model.save_weights(src)

    ed = tfc.Checkpoint.from_checkpoint(src)
    # rewriting unchanged keeps TF's bytes exactly (graph kept, node order = TF's order)
    ed.write(tmp_path / "same", fsync=False)
    assert (tmp_path / "same.index").read_bytes() == Path(src + ".index").read_bytes()
    assert (tmp_path / "same.data-00000-of-00001").read_bytes() == Path(
        src + ".data-00000-of-00001"
    ).read_bytes()

    new_kernel = np.full((4, 3), 0.25, np.float32)
    key = ed.update_by_path("layer-0/kernel", new_kernel)  # an alias path works too
    assert key == "layer_with_weights-0/kernel" + VV
    g = ed.graph
    if legacy:
        slot = "layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m" + VV
        assert g.paths(slot) == [
            "layer_with_weights-0/kernel/.OPTIMIZER_SLOT/optimizer/m",
            "layer-0/kernel/.OPTIMIZER_SLOT/optimizer/m",
        ]
        ed[slot] = np.full((4, 3), 7.0, np.float32)
        tree = tfc.load_tree(src)
        slots = tree["optimizer"][".OPTIMIZER_SLOT"]["layer_with_weights-0/kernel"]
        assert set(slots) == {"m", "v"}
    out = str(tmp_path / "out" / "w")
    ed.write(out)

    fresh = _keras2_model(k, legacy)
    fresh.fit(x, y, verbose=0, epochs=1)  # creates the optimizer variables
    status = fresh.load_weights(out)
    status.assert_existing_objects_matched()
    assert np.array_equal(fresh.layers[0].kernel.numpy(), new_kernel)
    assert np.array_equal(fresh.layers[1].kernel.numpy(), model.layers[1].kernel.numpy())
    if legacy:
        m_slot = fresh.optimizer.get_slot(fresh.layers[0].kernel, "m")
        assert np.array_equal(m_slot.numpy(), np.full((4, 3), 7.0, np.float32))

    # the key-level round trip keeps the graph tensor too
    tfc.save(tmp_path / "flat" / "w", tfc.load(src))
    again = _keras2_model(k, legacy)
    again.fit(x, y, verbose=0, epochs=1)
    again.load_weights(str(tmp_path / "flat" / "w")).assert_existing_objects_matched()
    assert np.array_equal(again.layers[0].kernel.numpy(), model.layers[0].kernel.numpy())


# -- Keras 3 ----------------------------------------------------------------------------------


def _keras3() -> Any:
    keras = pytest.importorskip("keras")
    if not keras.__version__.startswith("3"):
        pytest.skip("Keras 3 not installed")
    return keras


def _keras3_model(keras: Any) -> tuple[Any, Any]:
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(2)])
    opt = keras.optimizers.Adam()
    opt.build(model.trainable_variables)
    return model, opt


def test_keras3_paths_and_edit(tmp_path: Path) -> None:
    keras = _keras3()
    model, opt = _keras3_model(keras)
    src = tf.train.Checkpoint(model=model, optimizer=opt).write(str(tmp_path / "k3"))
    g = tfc.load_checkpoint(src).object_graph
    assert g is not None
    key = "optimizer/_trainable_variables/0" + VV
    paths = g.paths(key)
    assert paths[0] == "optimizer/_trainable_variables/0"
    model_paths = [p for p in paths if p.startswith("model/") and "optimizer" not in p]
    assert model_paths, paths  # the Dense kernel's own path through the model
    assert g.find(model_paths[0]) is g.owner(key)
    assert g.owner(key).attributes["VARIABLE_VALUE"].full_name.endswith("kernel")

    ed = tfc.Checkpoint.from_checkpoint(src)
    new = np.full((4, 3), -1.0, np.float32)
    assert ed.update_by_path(model_paths[0], new) == key
    out = ed.write(tmp_path / "k3out")
    model2, opt2 = _keras3_model(keras)
    tf.train.Checkpoint(model=model2, optimizer=opt2).read(out).assert_consumed()
    assert np.array_equal(model2.layers[0].kernel.numpy(), new)


# -- SavedModel -------------------------------------------------------------------------------


def test_saved_model_variables(tmp_path: Path) -> None:
    m = tf.Module()
    m.v = tf.Variable(np.arange(3, dtype=np.float32))
    m.inner = tf.Module()
    m.inner.w = tf.Variable([[1.0, 2.0]])
    m.f = tf.function(lambda: m.v * 2.0, input_signature=[])
    export = tmp_path / "sm"
    tf.saved_model.save(m, str(export))
    tree = tfc.load_tree(export)
    assert np.array_equal(tree["v"], [0, 1, 2])
    assert np.array_equal(tree["inner"]["w"], [[1, 2]])
    g = tfc.load_checkpoint(export).object_graph
    assert g is not None and g.find("inner/w").value_key == "inner/w" + VV

    copy = tmp_path / "sm2"
    shutil.copytree(export, copy)
    ed = tfc.Checkpoint.from_checkpoint(export / "variables" / "variables")
    ed.update_by_path("v", np.array([5, 6, 7], np.float32))
    ed.write(copy / "variables" / "variables")
    loaded = tf.saved_model.load(str(copy))
    assert np.array_equal(loaded.v.numpy(), [5, 6, 7])
    assert np.array_equal(loaded.f().numpy(), [10, 12, 14])


# -- state file and CheckpointManager ---------------------------------------------------------

_path_names = st.text(st.sampled_from('ab-_.é"\\ 0'), min_size=1, max_size=8)


@_SETTINGS
@given(
    names=st.lists(_path_names, min_size=1, max_size=4, unique=True),
    stamps=st.lists(st.floats(0, 4e9, allow_nan=False), min_size=4, max_size=4),
    relative=st.booleans(),
)
def test_state_text_identical_to_tf(
    tmp_path: Path, names: list[str], stamps: list[float], relative: bool
) -> None:
    from tensorflow.python.checkpoint import checkpoint_management as cm

    # Checkpoints live apart from both state directories, so that a generated name can never
    # be one of them (its relative path would then differ between the two directories).
    paths = [str(tmp_path / "ckpts" / n) for n in names]
    ts = stamps[: len(paths)]
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "b").mkdir(exist_ok=True)
    cm.update_checkpoint_state_internal(
        str(tmp_path / "a"),
        paths[-1],
        list(paths),
        save_relative_paths=relative,
        all_model_checkpoint_timestamps=ts,
        last_preserved_timestamp=stamps[-1],
    )
    tfc.update_checkpoint_state(
        tmp_path / "b",
        paths[-1],
        paths,
        None,
        ts,
        stamps[-1],
        save_relative_paths=relative,
        fsync=False,
    )
    text = (tmp_path / "a" / "checkpoint").read_bytes()
    assert text == (tmp_path / "b" / "checkpoint").read_bytes()
    # and each side reads the other's file the same way (paths relative to its own dir)
    theirs = cm.get_checkpoint_state(str(tmp_path / "a"))
    ours = tfc.get_checkpoint_state(tmp_path / "a")
    assert ours is not None
    assert ours.model_checkpoint_path == theirs.model_checkpoint_path
    assert ours.all_model_checkpoint_paths == list(theirs.all_model_checkpoint_paths)
    assert ours.all_model_checkpoint_timestamps == list(theirs.all_model_checkpoint_timestamps)


def test_manager_interop_both_ways(tmp_path: Path) -> None:
    d = str(tmp_path / "run")
    w = np.arange(4, dtype=np.float32)
    ck = tf.train.Checkpoint(model=_module({"w": w}, {}))
    tf_mgr = tf.train.CheckpointManager(ck, d, max_to_keep=2)
    for _ in range(3):
        tf_mgr.save()
    tree = {"model": {"w": np.zeros_like(w)}}
    ours = tfc.CheckpointManager(tfc.Checkpoint(**tree), d, max_to_keep=2)
    assert ours.checkpoints == tf_mgr.checkpoints
    assert ours.latest_checkpoint == tf_mgr.latest_checkpoint
    # restoring continues TF's numbering (save_counter 3); our manager deletes like TF
    assert ours.restore_or_initialize() == tf_mgr.latest_checkpoint
    assert np.array_equal(tree["model"]["w"], w)
    tree["model"]["w"] += 1
    p = ours.save()
    assert p == os.path.join(d, "ckpt-4")
    assert sorted(n for n in os.listdir(d) if n.endswith(".index")) == [
        "ckpt-3.index",
        "ckpt-4.index",
    ]
    tf_mgr2 = tf.train.CheckpointManager(ck, d, max_to_keep=2)
    assert tf_mgr2.checkpoints == ours.checkpoints
    assert tf_mgr2.latest_checkpoint == p
    fresh = tf.train.Checkpoint(model=_module({"w": w * 0}, {}))
    fresh.restore(tf_mgr2.latest_checkpoint).assert_consumed()
    assert np.array_equal(fresh.model.w.numpy(), w + 1)
    assert int(fresh.save_counter.numpy()) == 4
    # and TF continues after us
    fresh_mgr = tf.train.CheckpointManager(fresh, d, max_to_keep=2)
    assert fresh_mgr.save() == os.path.join(d, "ckpt-5")
    ours2 = tfc.CheckpointManager(tfc.Checkpoint(), d, max_to_keep=2)
    assert ours2.checkpoints == [os.path.join(d, "ckpt-4"), os.path.join(d, "ckpt-5")]
    assert not os.path.exists(os.path.join(d, "ckpt-3.index"))


@pytest.mark.parametrize(("max_to_keep", "hours"), [(2, None), (1, 1.0), (3, 0.5), (None, None)])
def test_manager_deletion_identical_to_tf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_to_keep: int | None, hours: float | None
) -> None:
    """Same saves on a fake clock: TF's manager and ours leave the same files and state text."""
    import time

    clock = [1_700_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    w = np.ones(2, np.float32)
    ck = tf.train.Checkpoint(model=_module({"w": w}, {}))
    tf_mgr = tf.train.CheckpointManager(
        ck, str(tmp_path / "tf"), max_to_keep=max_to_keep, keep_checkpoint_every_n_hours=hours
    )
    ours = tfc.CheckpointManager(
        tfc.Checkpoint(model={"w": w}),
        tmp_path / "ours",
        max_to_keep=max_to_keep,
        keep_checkpoint_every_n_hours=hours,
    )
    for _ in range(7):
        clock[0] += 1000.0
        tf_mgr.save()
        ours.save()
        assert [os.path.basename(p) for p in ours.checkpoints] == [
            os.path.basename(p) for p in tf_mgr.checkpoints
        ]
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "tf"))
    assert (tmp_path / "ours" / "checkpoint").read_bytes() == (
        tmp_path / "tf" / "checkpoint"
    ).read_bytes()
    # the checkpoints themselves are byte-identical too
    _files_equal(str(tmp_path / "ours" / "ckpt-7"), str(tmp_path / "tf" / "ckpt-7"))


def test_repeated_dict_and_list_like_tf(tmp_path: Path) -> None:
    """TF wraps one plain dict/list assigned twice into two wrapper nodes; so do we."""
    w = np.array([1.0, 2.0], np.float32)
    d = {"x": w}
    three = np.array(3.0, np.float32)
    lst = [w, three]
    v = tf.Variable(w)
    td = {"x": v}
    tl = [v, tf.Variable(three)]
    m = tf.Module()
    m.a, m.b, m.c, m.d = td, td, tl, tl
    theirs = tf.train.Checkpoint(model=m).write(str(tmp_path / "tf"))
    ours = tfc.Checkpoint(model={"a": d, "b": d, "c": lst, "d": lst}).write(tmp_path / "ours")
    _files_equal(ours, theirs)
