"""The tf.train workflow without TF: missing-key hints, checkpoints_iterator timing, the
errors module's hierarchy, restore(None) and name-based restores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import tfckpt_lite as tfc
import tfckpt_lite.train as train


def test_missing_key_suggests_close_matches_and_storage_keys(tmp_path: Path) -> None:
    p = tfc.save(tmp_path / "n", {"dense/kernel": np.ones(2), "dense/bias": np.ones(2)})
    with tfc.load_checkpoint(p) as r, pytest.raises(tfc.errors.NotFoundError) as e:
        r.get_tensor("dense/kernal")
    assert "Key dense/kernal not found in checkpoint" in str(e.value)
    assert "did you mean 'dense/kernel'" in str(e.value)
    q = tfc.Checkpoint(model={"dense": {"kernel": np.ones(2, np.float32)}}).write(tmp_path / "o")
    with tfc.load_checkpoint(q) as r, pytest.raises(KeyError) as e2:
        r["model/dense/kernel"]
    assert "'model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE'" in str(e2.value)


def test_errors_module_keeps_builtins() -> None:
    e = tfc.errors
    assert issubclass(e.NotFoundError, e.OpError) and e.OpError is tfc.CheckpointError
    assert issubclass(tfc.CheckpointNotFoundError, e.NotFoundError)
    assert issubclass(tfc.CheckpointNotFoundError, FileNotFoundError)
    assert issubclass(tfc.TensorNotFoundError, KeyError)
    assert issubclass(tfc.CorruptCheckpointError, e.DataLossError)
    assert issubclass(tfc.UnsupportedCheckpointError, NotImplementedError)
    assert issubclass(e.InvalidArgumentError, ValueError)


def test_name_based_restore_by_path(tmp_path: Path) -> None:
    p = tfc.save(tmp_path / "n", {"dense/kernel": np.arange(3.0), "step": np.int64(4)})
    k = np.zeros(3)
    ck = tfc.Checkpoint(dense={"kernel": k}, step=np.int64(0))
    ck.read(p).assert_consumed()
    assert k.tolist() == [0.0, 1.0, 2.0] and ck.step == 4


def test_restore_none_is_a_no_op() -> None:
    a = np.ones(2)
    st = tfc.Checkpoint(a=a).restore(None)
    assert st.expect_partial() is st and a.tolist() == [1.0, 1.0]


def test_checkpoints_iterator_timeout_fn(tmp_path: Path) -> None:
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) >= 2

    assert list(train.checkpoints_iterator(tmp_path, timeout=0.05, timeout_fn=stop)) == []
    assert len(calls) == 2


def test_prefix_wins_over_a_savedmodel_folder_of_the_same_name(tmp_path: Path) -> None:
    # dir/model.index + data beside a SavedModel folder dir/model/, state file -> "model"
    ck = tfc.Checkpoint(w=np.full(2, 7.0, np.float32))
    ck.save(tmp_path / "model")  # model-1; rename it to the bare prefix "model"
    for f in tmp_path.glob("model-1.*"):
        f.rename(tmp_path / f.name.replace("model-1", "model"))
    tfc.update_checkpoint_state(tmp_path, "model")
    sm = tmp_path / "model" / "variables"
    sm.mkdir(parents=True)
    tfc.Checkpoint(w=np.zeros(2, np.float32)).write(sm / "variables")
    assert tfc.load_checkpoint(tmp_path).prefix == str(tmp_path / "model")
    assert tfc.load_checkpoint(tmp_path / "model").prefix == str(tmp_path / "model")
    assert tfc.load_checkpoint(f"{tmp_path / 'model'}/").prefix == str(sm / "variables")
    assert tfc.load(tmp_path)["w/.ATTRIBUTES/VARIABLE_VALUE"][0] == 7.0
