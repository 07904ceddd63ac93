"""Live TF 2.21: Checkpoint.restore/read and their status objects behave as TF's.

Each scenario runs on TF's Checkpoint and on ours over the same files; which asserts raise must
agree. Then restoring what TF wrote (tf.Module, tf-keras, Keras 3, CheckpointManager) into the
equivalent NumPy objects, and plain Python objects written as TF writes tf.Modules.
"""

from __future__ import annotations

import gc
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
tf = pytest.importorskip("tensorflow")

pytestmark = pytest.mark.tf

_ASSERTS = ("assert_consumed", "assert_existing_objects_matched", "assert_nontrivial_match")


def _outcomes(status: Any) -> dict[str, bool]:
    out = {name: _passes(getattr(status, name)) for name in _ASSERTS}
    status.expect_partial()
    return out


def _passes(check: Any) -> bool:
    try:
        check()
    except AssertionError:
        return False
    return True


def _tf_ck(values: dict[str, Any]) -> Any:
    return tf.train.Checkpoint(**{k: tf.Variable(v) for k, v in values.items()})


def _ours(values: dict[str, Any]) -> tfc.Checkpoint:
    return tfc.Checkpoint(**{k: np.array(v) for k, v in values.items()})


A = np.arange(3, dtype=np.float32)


@pytest.mark.parametrize(
    ("written", "loaded", "how", "saved"),
    [
        ({"a": A}, {"a": A}, "read", False),
        ({"a": A}, {"a": A}, "restore", False),
        ({"a": A}, {"a": A}, "read", True),
        ({"a": A}, {"a": A}, "restore", True),
        ({"a": A, "b": A}, {"a": A}, "read", False),
        ({"a": A}, {"a": A, "b": A}, "read", False),
        ({"a": A}, {"c": A}, "read", False),
        ({"a": A}, {"c": A}, "restore", True),
    ],
)
def test_status_asserts_agree_with_tf(
    tmp_path: Path, written: dict[str, Any], loaded: dict[str, Any], how: str, saved: bool
) -> None:
    src = _tf_ck(written)
    path = src.save(str(tmp_path / "ck")) if saved else src.write(str(tmp_path / "ck"))
    theirs = _outcomes(getattr(_tf_ck(loaded), how)(path))
    ours = _outcomes(getattr(_ours(loaded), how)(path))
    assert ours == theirs


def test_restore_none_and_missing_path_like_tf(tmp_path: Path) -> None:
    st = tfc.Checkpoint(a=A.copy()).restore(None)
    with pytest.raises(AssertionError, match="No checkpoint specified"):
        st.assert_consumed()
    with pytest.raises(tf.errors.NotFoundError):
        _tf_ck({"a": A}).restore(str(tmp_path / "nope"))
    with pytest.raises(tfc.errors.NotFoundError, match="missing the checkpoint suffix"):
        tfc.Checkpoint(a=A.copy()).restore(tmp_path / "nope")


def test_shape_mismatch_raises_and_changes_nothing(tmp_path: Path) -> None:
    path = _tf_ck({"a": np.ones(3, np.float32), "b": np.ones(2, np.float32)}).write(
        str(tmp_path / "ck")
    )
    with pytest.raises(ValueError, match="incompatible tensor with shape"):
        _tf_ck({"a": np.zeros(3, np.float32), "b": np.zeros(4, np.float32)}).read(path)
    a, b = np.zeros(3, np.float32), np.zeros(4, np.float32)
    with pytest.raises(tfc.errors.InvalidArgumentError, match=r"\(2,\).*\(4,\) at b"):
        tfc.Checkpoint(a=a, b=b).read(path)
    assert not a.any() and not b.any()  # nothing half-restored
    with pytest.raises(tfc.errors.InvalidArgumentError, match=r"float32.*float64"):
        tfc.Checkpoint(a=np.zeros(3), b=np.zeros(2, np.float32)).read(path)


def test_restore_tf_module_tree_in_place(tmp_path: Path) -> None:
    m = tf.Module()
    m.dense = tf.Module()
    m.dense.kernel = tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3))
    m.dense.bias = tf.Variable(np.ones(3, np.float32))
    m.blocks = [tf.Variable(np.int64(5)), {"scale": tf.Variable(2.5)}]
    m.units = 3  # configuration, not tracked
    step = tf.Variable(np.int64(42))
    mgr = tf.train.CheckpointManager(
        tf.train.Checkpoint(model=m, step=step), str(tmp_path), max_to_keep=2
    )
    mgr.save()
    path = mgr.save()

    class Dense:
        def __init__(self) -> None:
            self.kernel = np.zeros((2, 3), np.float32)
            self.bias = np.zeros(3, np.float32)
            self.name = "dense"  # a str attribute: configuration

    class Model:
        def __init__(self) -> None:
            self.dense = Dense()
            self.blocks: list[Any] = [np.int64(0), {"scale": 0.0}]
            self.units = 3

    model = Model()
    kernel = model.dense.kernel
    ck = tfc.Checkpoint(model=model, step=np.int64(0))
    ck.restore(tfc.latest_checkpoint(tmp_path)).assert_consumed()
    assert path.endswith("-2") and ck.save_counter == 2
    assert model.dense.kernel is kernel and kernel[1, 2] == 5.0  # filled in place
    step_value: Any = ck.step
    assert step_value == 42 and isinstance(step_value, np.int64)
    assert model.blocks[0] == 5 and model.blocks[1]["scale"] == 2.5
    assert isinstance(model.blocks[1]["scale"], float)


def test_plain_objects_write_tf_module_bytes(tmp_path: Path) -> None:
    k = np.arange(6, dtype=np.float32).reshape(2, 3)
    m = tf.Module()
    m.layer = tf.Module()
    m.layer.w = tf.Variable(k)
    m.layer.again = m.layer.w
    m.head = [tf.Variable(np.ones(2, np.float32))]
    m.lr = 0.1  # not tracked by tf.Module
    theirs = tf.train.Checkpoint(net=m).write(str(tmp_path / "tf"))

    class Obj:
        pass

    net, layer = Obj(), Obj()
    layer.w = k  # type: ignore[attr-defined]
    layer.again = k  # type: ignore[attr-defined]
    net.layer = layer  # type: ignore[attr-defined]
    net.head = [np.ones(2, np.float32)]  # type: ignore[attr-defined]
    net.lr = 0.1  # type: ignore[attr-defined]
    ours = tfc.Checkpoint(net=net).write(tmp_path / "ours", fsync=False)
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(ours + suffix).read_bytes() == Path(theirs + suffix).read_bytes()


def test_keras_checkpoints_restore_into_numpy_trees(tmp_path: Path) -> None:
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 3)), verbose=0, epochs=1)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "k3"))
    tree = tfc.load_tree(path)  # the layout, to build the equivalent NumPy tree from
    zeros = _zeros_like(tree)
    status = tfc.Checkpoint(**zeros).read(path)
    status.assert_existing_objects_matched()
    kernel = model.layers[0].kernel.numpy()
    found = [v for v in _leaves(zeros) if v.shape == kernel.shape and np.array_equal(v, kernel)]
    assert found
    keras.backend.clear_session()  # later tests count on fresh layer names


def test_tf_keras_checkpoint_with_slots_restores(tmp_path: Path) -> None:
    tf_keras = pytest.importorskip("tf_keras")
    model = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((8, 4)), np.ones((8, 3)), verbose=0, epochs=1)
    path = tf.train.Checkpoint(model=model, optimizer=model.optimizer).write(str(tmp_path / "k"))
    zeros = _zeros_like(tfc.load_tree(path))
    status = tfc.Checkpoint(**zeros).read(path)
    status.assert_consumed()  # tf-keras also tracks the Adam slots as optimizer children
    kernel = model.layers[0].kernel.numpy()
    assert any(v.shape == kernel.shape and np.array_equal(v, kernel) for v in _leaves(zeros))
    tf_keras.backend.clear_session()


def _zeros_like(tree: Any, memo: dict[int, Any] | None = None) -> Any:
    """The same tree with zeroed arrays; an object shared by two paths stays shared (as
    load_tree gives it, and as TF tracks it: one object)."""
    memo = {} if memo is None else memo
    if id(tree) in memo:
        return memo[id(tree)]
    if isinstance(tree, dict):
        out: Any = {}
        memo[id(tree)] = out
        out.update({k: _zeros_like(v, memo) for k, v in tree.items() if not k.startswith(".")})
    else:
        out = np.zeros_like(tree) if tree.dtype != object else tree.copy()
        memo[id(tree)] = out
    return out


def _leaves(tree: Any) -> list[Any]:
    if isinstance(tree, dict):
        return [x for v in tree.values() for x in _leaves(v)]
    return [tree]


def test_unrestored_values_warn_unless_expect_partial(tmp_path: Path) -> None:
    path = _tf_ck({"a": A, "b": A}).write(str(tmp_path / "ck"))
    with pytest.warns(UserWarning, match="(?s)unrestored.*restored: b"):
        _ours({"a": A}).read(path)
        gc.collect()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _ours({"a": A}).read(path).expect_partial()
        gc.collect()
