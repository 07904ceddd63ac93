"""Checkpoint / load_tree / CheckpointManager without TensorFlow.

Expected graphs and data orders below were observed from TF 2.21 on the equivalent tf.Module
trees (the live comparison, byte for byte, is in test_tf_objects.py).
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._bundle_reader import BundleReader
from tfckpt_lite._naming import OBJECT_GRAPH_KEY
from tfckpt_lite._storage import LocalFileSystem

VV = "/.ATTRIBUTES/VARIABLE_VALUE"


def _data_order(prefix: str | Path) -> list[str]:
    r = BundleReader(str(prefix), LocalFileSystem())
    try:
        keys = r.keys()
        return [k for _, k in sorted((r.entry(k).offset, k) for k in keys)]
    finally:
        r.close()


def _tree() -> dict[str, Any]:
    # "shared" is the same array as sub/w: one variable, first reached as model/shared.
    shared = np.arange(6, dtype=np.float32).reshape(2, 3)
    return {
        "zeta": 1.0,
        "alpha": np.array([1, 2], np.int32),
        "lst": [3.0, {"b": 4.0, "a.x/y": 5.0}],
        "dct": {"z": 6.0, "a": [7.0]},
        "sub": {"w": shared},
        "shared": shared,
    }


def test_graph_and_order_match_tf(tmp_path: Path) -> None:
    ck = tfc.Checkpoint(model=_tree(), step=np.int64(0))
    prefix = ck.save(tmp_path / "ck")
    assert prefix == str(tmp_path / "ck-1")
    # Observed from TF 2.21 (tf.Module with the same attributes, Checkpoint(model=, step=)).
    assert _data_order(prefix) == [
        "step" + VV,
        "save_counter" + VV,
        "model/zeta" + VV,
        "model/alpha" + VV,
        "model/shared" + VV,
        "model/lst/0" + VV,
        "model/dct/z" + VV,
        "model/lst/1/b" + VV,
        "model/lst/1/a..x.Sy" + VV,
        "model/dct/a/0" + VV,
        OBJECT_GRAPH_KEY,
    ]
    with tfc.load_checkpoint(prefix) as r:
        g = r.object_graph
        assert g is not None
        kids = [[(n, c.id) for n, c in node.children.items()] for node in g]
        assert kids[:2] == [
            [("model", 1), ("step", 2), ("save_counter", 3)],
            [("zeta", 4), ("alpha", 5), ("lst", 6), ("dct", 7), ("sub", 8), ("shared", 9)],
        ]
        assert kids[6] == [("0", 10), ("1", 11)]
        assert kids[8] == [("w", 9)]  # the shared array is one variable
        assert kids[11] == [("b", 14), ("a.x/y", 15)]
        assert g[3].attributes["VARIABLE_VALUE"].full_name == "save_counter"
        assert g[4].attributes["VARIABLE_VALUE"].full_name == "Variable"
        assert all(n.has_checkpoint_values for n in g)
        assert r["save_counter" + VV].dtype == np.int64 and r["save_counter" + VV] == 1
    assert (tmp_path / "checkpoint").read_text() == (
        'model_checkpoint_path: "ck-1"\nall_model_checkpoint_paths: "ck-1"\n'
    )
    assert ck.save(tmp_path / "ck") == str(tmp_path / "ck-2")
    assert tfc.latest_checkpoint(tmp_path) == str(tmp_path / "ck-2")


def test_write_has_no_counter_and_empty_containers(tmp_path: Path) -> None:
    ck = tfc.Checkpoint(a={"empty": {}, "nil": []}, b=[np.zeros(3, np.float16)])
    ck.write(tmp_path / "w")
    with tfc.load_checkpoint(tmp_path / "w") as r:
        assert sorted(r) == [OBJECT_GRAPH_KEY, "b/0" + VV]
        g = r.object_graph
        assert g is not None
        assert g.find("a").has_checkpoint_values is False
        assert g.find("a/empty").has_checkpoint_values is False
        assert g.find("b").has_checkpoint_values is True
    assert not (tmp_path / "checkpoint").exists()


def test_bad_trees() -> None:
    with pytest.raises(ValueError, match="reserved"):
        tfc.Checkpoint(save_counter=1)
    with pytest.raises(TypeError, match="str"):
        tfc.Checkpoint(a={1: 2.0}).graph  # noqa: B018
    with pytest.raises(TypeError, match="None"):
        tfc.Checkpoint(a={"x": None}).graph  # noqa: B018


def test_cyclic_tree_is_an_error() -> None:
    d: dict[str, Any] = {"w": np.ones(2, np.float32)}
    d["self"] = d
    with pytest.raises(ValueError, match="m/self: the tree contains itself"):
        tfc.Checkpoint(m=d).graph  # noqa: B018
    lst: list[Any] = [1.0]
    lst.append({"x": lst})
    with pytest.raises(ValueError, match="contains itself"):
        tfc.Checkpoint(m=lst).graph  # noqa: B018


def test_repeated_container_is_two_nodes() -> None:
    # TF wraps a plain dict anew on every assignment: two nodes, one shared variable inside.
    w = np.ones(2, np.float32)
    d = {"x": w}
    g = tfc.Checkpoint(model={"a": d, "b": d}).graph
    assert [(n, c.id) for n, c in g.find("model").children.items()] == [("a", 2), ("b", 3)]
    assert g.find("model/a/x") is g.find("model/b/x")


def _cyclic_graph_checkpoint(prefix: Path) -> None:
    """root -> m -> (w, layer-0 -> L, layer_with_weights-0 -> L, back -> m); L -> kernel."""
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    g = pb.TrackableObjectGraph()
    spec: list[tuple[list[tuple[int, str]], list[str]]] = [
        ([(1, "m")], []),
        ([(2, "w"), (3, "layer-0"), (3, "layer_with_weights-0"), (1, "back")], []),
        ([], ["m/w" + VV]),
        ([(4, "kernel"), (1, "owner")], []),
        ([], ["m/layer-0/kernel" + VV]),
    ]
    for children, keys in spec:
        o = g.nodes.add()
        for cid, name in children:
            o.children.add(node_id=cid, local_name=name)
        for k in keys:
            o.attributes.add(name="VARIABLE_VALUE", checkpoint_key=k)
    tfc.save(
        prefix,
        {
            "m/w" + VV: np.ones(2, np.float32),
            "m/layer-0/kernel" + VV: np.zeros((2, 2), np.float32),
            OBJECT_GRAPH_KEY: g.SerializeToString(),
        },
    )


def test_load_tree_shared_and_cyclic_graph(tmp_path: Path) -> None:
    _cyclic_graph_checkpoint(tmp_path / "c")
    t = tfc.load_tree(tmp_path / "c")
    m = t["m"]
    assert list(m) == ["w", "layer-0", "layer_with_weights-0"]  # back edge left out
    assert m["layer-0"] is m["layer_with_weights-0"]  # shared object, shared dict
    assert list(m["layer-0"]) == ["kernel"]  # its edge back to m would close a cycle
    assert np.array_equal(m["layer-0"]["kernel"], np.zeros((2, 2)))
    # graph mode keeps such a graph as it is
    ed = tfc.Checkpoint.from_checkpoint(tmp_path / "c")
    ed.update_by_path("m/layer_with_weights-0/owner/w", np.full(2, 3, np.float32))
    ed.write(tmp_path / "d")
    assert np.array_equal(tfc.load_tree(tmp_path / "d")["m"]["w"], [3, 3])


def test_load_tree_slot_variable_with_children_never_contains_itself(tmp_path: Path) -> None:
    """A slot variable (reached through its optimizer's slot record, on no child path) whose
    own child edges lead back to itself or its optimizer: those edges would close cycles and
    are left out, as every other such edge is."""
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    g = pb.TrackableObjectGraph()
    root, var, opt, slot = (g.nodes.add() for _ in range(4))
    root.children.add(node_id=1, local_name="v")
    root.children.add(node_id=2, local_name="opt")
    var.attributes.add(name="VARIABLE_VALUE", checkpoint_key="v" + VV)
    opt.slot_variables.add(original_variable_node_id=1, slot_name="m", slot_variable_node_id=3)
    slot.children.add(node_id=3, local_name="self")
    slot.children.add(node_id=2, local_name="optimizer")
    slot.children.add(node_id=1, local_name="variable")
    slot.attributes.add(name="VARIABLE_VALUE", checkpoint_key="v/.OPTIMIZER_SLOT/opt/m" + VV)
    tfc.save(
        tmp_path / "s",
        {
            "v" + VV: np.ones(2, np.float32),
            "v/.OPTIMIZER_SLOT/opt/m" + VV: np.zeros(2, np.float32),
            OBJECT_GRAPH_KEY: g.SerializeToString(),
        },
    )
    t = tfc.load_tree(tmp_path / "s")
    m = t["opt"][".OPTIMIZER_SLOT"]["v"]["m"]
    assert list(m) == ["variable", ".ATTRIBUTES"]  # "self" and "optimizer" close cycles
    assert m["variable"] is t["v"] and np.array_equal(m[".ATTRIBUTES"]["VARIABLE_VALUE"], [0, 0])


def test_load_tree_root_that_is_a_variable(tmp_path: Path) -> None:
    """A graph whose root node is itself a variable (no TF writer makes one; a hostile file
    can) loads as a dict holding it under ".ATTRIBUTES", never an AssertionError."""
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    for stored in (True, False):
        g = pb.TrackableObjectGraph()
        g.nodes.add().attributes.add(name="VARIABLE_VALUE", checkpoint_key="r" + VV)
        tensors: dict[str, Any] = {OBJECT_GRAPH_KEY: g.SerializeToString(), "other": 1}
        if stored:
            tensors["r" + VV] = np.ones(2, np.float32)
        tfc.save(tmp_path / "r", tensors)
        t = tfc.load_tree(tmp_path / "r")
        assert list(t) == [".ATTRIBUTES"]
        assert list(t[".ATTRIBUTES"]) == (["VARIABLE_VALUE"] if stored else [])


def _as_loaded(v: Any) -> Any:
    """What load_tree gives back for a tree we wrote: lists become dicts "0", "1", ..."""
    if isinstance(v, dict):
        return {k: _as_loaded(x) for k, x in v.items()}
    if isinstance(v, list):
        return {str(i): _as_loaded(x) for i, x in enumerate(v)}
    return tfc._writer.to_array(v)


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            _assert_same(a[k], b[k])
    else:
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)


_names = st.text(st.sampled_from("ab./_éß0"), min_size=1, max_size=4)
_leaves = st.one_of(
    st.floats(allow_nan=False, width=32),
    st.integers(-(2**31), 2**31 - 1),
    st.lists(st.floats(allow_nan=False, width=32), max_size=3).map(
        lambda x: np.array(x, np.float32)
    ),
    st.binary(max_size=5),
)
_trees = st.recursive(
    _leaves,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(_names, kids, max_size=3)),
    max_leaves=10,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=st.dictionaries(_names.filter(lambda n: n != "save_counter"), _trees, max_size=4))
def test_tree_round_trip(tmp_path: Path, tree: dict[str, Any]) -> None:
    prefix = tmp_path / "t"
    tfc.Checkpoint(**tree).write(prefix, fsync=False)
    back = tfc.load_tree(prefix)
    _assert_same(_as_loaded(dict(sorted(tree.items()))), back)
    # and again through graph mode: the graph bytes are kept
    with tfc.load_checkpoint(prefix) as r:
        before = bytes(r[OBJECT_GRAPH_KEY].item())
    tfc.Checkpoint.from_checkpoint(prefix).write(tmp_path / "t2", fsync=False)
    with tfc.load_checkpoint(tmp_path / "t2") as r:
        assert bytes(r[OBJECT_GRAPH_KEY].item()) == before
    assert (tmp_path / "t.index").read_bytes() == (tmp_path / "t2.index").read_bytes()


def test_load_tree_attributes_on_containers(tmp_path: Path) -> None:
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    g = pb.TrackableObjectGraph()
    root = g.nodes.add()
    root.children.add(node_id=1, local_name="obj")
    obj = g.nodes.add()
    obj.children.add(node_id=2, local_name="v")
    obj.attributes.add(name="py_state", checkpoint_key="obj/.ATTRIBUTES/py_state")
    g.nodes.add().attributes.add(name="VARIABLE_VALUE", checkpoint_key="obj/v" + VV)
    tfc.save(
        tmp_path / "a",
        {
            "obj/.ATTRIBUTES/py_state": b"{}",
            "obj/v" + VV: 1.0,
            OBJECT_GRAPH_KEY: g.SerializeToString(),
        },
    )
    t = tfc.load_tree(tmp_path / "a")
    assert t["obj"][".ATTRIBUTES"] == {"py_state": b"{}"}
    assert t["obj"]["v"] == 1.0


def test_load_tree_name_based(tmp_path: Path) -> None:
    tfc.save(
        tmp_path / "n",
        {"dense/kernel": np.ones(2), "dense/kernel/Adam": np.zeros(2), "global_step": 3},
    )
    t = tfc.load_tree(tmp_path / "n")
    assert set(t) == {"dense", "global_step"}
    assert set(t["dense"]["kernel"]) == {"", "Adam"}
    assert np.array_equal(t["dense"]["kernel"][""], np.ones(2))
    assert t["global_step"] == 3


def test_save_load_keeps_graph(tmp_path: Path) -> None:
    tfc.Checkpoint(m={"w": np.arange(3, dtype=np.float32)}).write(tmp_path / "a")
    loaded = tfc.load(tmp_path / "a")
    loaded["m/w" + VV] = loaded["m/w" + VV] * 2
    tfc.save(tmp_path / "b", loaded)
    t = tfc.load_tree(tmp_path / "b")
    assert np.array_equal(t["m"]["w"], [0, 2, 4])


def test_update_by_path_graph_mode(tmp_path: Path) -> None:
    tfc.Checkpoint(model={"a.b/c": np.zeros(2, np.float32), "n": [np.int64(1)]}).save(
        tmp_path / "ck"
    )
    ed = tfc.Checkpoint.from_checkpoint(tmp_path / "ck-1")
    assert ed.save_counter == 1
    assert ed.update_by_path("model/a..b.Sc", np.ones(2, np.float32)) == "model/a..b.Sc" + VV
    assert ed.update_by_path(["model", "n", "0"], np.int64(9)) == "model/n/0" + VV
    with pytest.raises(ValueError, match="does not match"):
        ed.update_by_path("model/n/0", np.int32(9))
    with pytest.raises(KeyError):
        ed.update_by_path("model/zzz", 1)
    with pytest.raises(KeyError):
        ed["nope"] = 1
    p = ed.save(tmp_path / "ck")
    assert p == str(tmp_path / "ck-2")
    t = tfc.load_tree(p)
    assert np.array_equal(t["model"]["a.b/c"], [1, 1])
    assert t["model"]["n"]["0"] == 9
    assert t["save_counter"] == 2


def test_update_by_path_tree_mode(tmp_path: Path) -> None:
    ck = tfc.Checkpoint(model={"l": [np.zeros(2, np.float32)], "a/b": 1.0})
    assert ck.update_by_path("model/l/0", np.ones(2, np.float32)) == "model/l/0" + VV
    assert ck.update_by_path("model/a.Sb", 2.0) == "model/a.Sb" + VV
    assert ck.tree is not None
    model = ck.tree["model"]
    assert isinstance(model, dict) and model["a/b"] == 2.0
    with pytest.raises(KeyError):
        ck.update_by_path("model/nope", 1.0)


def test_save_adds_counter_to_graph_without_one(tmp_path: Path) -> None:
    tfc.Checkpoint(w=np.ones(1, np.float32)).write(tmp_path / "plain")
    ed = tfc.Checkpoint.from_checkpoint(tmp_path / "plain")
    assert ed.save_counter is None
    p = ed.save(tmp_path / "x")
    g = tfc.load_checkpoint(p).object_graph
    assert g is not None
    assert list(g.root.children) == ["w", "save_counter"]
    assert tfc.load_tree(p)["save_counter"] == 1


def test_from_checkpoint_rejects_name_based(tmp_path: Path) -> None:
    tfc.save(tmp_path / "n", {"a": 1})
    with pytest.raises(ValueError, match="no object graph"):
        tfc.Checkpoint.from_checkpoint(tmp_path / "n")


def test_keras3_alias_update(tmp_path: Path) -> None:
    k = np.ones((2, 2), np.float32)
    # the optimizer's _trainable_variables list holds the model's kernel (shared node)
    tfc.Checkpoint(model={"dense": {"kernel": k}}, optimizer={"_trainable_variables": [k]}).write(
        tmp_path / "k"
    )
    ed = tfc.Checkpoint.from_checkpoint(tmp_path / "k")
    key = ed.update_by_path("optimizer/_trainable_variables/0", np.zeros((2, 2), np.float32))
    assert key == "model/dense/kernel" + VV
    g = ed.graph
    assert g.paths(key) == ["model/dense/kernel", "optimizer/_trainable_variables/0"]


# -- CheckpointManager ---------------------------------------------------------------------


def _files(d: Path) -> list[str]:
    return sorted(p.name for p in d.iterdir())


def test_manager_keeps_last_n(tmp_path: Path) -> None:
    w = np.zeros(2, np.float32)
    mgr = tfc.CheckpointManager(tfc.Checkpoint(w=w), tmp_path, max_to_keep=2)
    assert mgr.latest_checkpoint is None and mgr.checkpoints == []
    paths: list[Any] = []
    for i in range(4):
        w[:] = i
        paths.append(mgr.save())
    assert paths == [str(tmp_path / f"ckpt-{i}") for i in range(1, 5)]
    assert mgr.checkpoints == paths[2:]
    assert _files(tmp_path) == [
        "checkpoint",
        "ckpt-3.data-00000-of-00001",
        "ckpt-3.index",
        "ckpt-4.data-00000-of-00001",
        "ckpt-4.index",
    ]
    st = tfc.get_checkpoint_state(tmp_path)
    assert st is not None
    assert st.all_model_checkpoint_paths == paths[2:]
    assert len(st.all_model_checkpoint_timestamps) == 2
    text = (tmp_path / "checkpoint").read_text().splitlines()
    assert text[:3] == [
        'model_checkpoint_path: "ckpt-4"',
        'all_model_checkpoint_paths: "ckpt-3"',
        'all_model_checkpoint_paths: "ckpt-4"',
    ]
    assert text[-1].startswith("last_preserved_timestamp: ")
    assert tfc.load_tree(paths[-1])["save_counter"] == 4
    # a new manager picks up the list; restoring picks up the numbering and the values
    w2 = np.zeros(2, np.float32)
    mgr2 = tfc.CheckpointManager(tfc.Checkpoint(w=w2), tmp_path, max_to_keep=2)
    assert mgr2.checkpoints == paths[2:]
    assert mgr2.restore_or_initialize() == paths[-1] and w2.tolist() == [3.0, 3.0]
    assert mgr2.save() == str(tmp_path / "ckpt-5")
    assert mgr2.checkpoints == [paths[3], str(tmp_path / "ckpt-5")]


def test_manager_checkpoint_object_and_numbers(tmp_path: Path) -> None:
    ck = tfc.Checkpoint(w=np.ones(1, np.float32))
    mgr = tfc.CheckpointManager(ck, tmp_path, max_to_keep=None, checkpoint_name="model")
    assert mgr.checkpoint is ck and mgr.max_to_keep is None
    assert mgr.save() == str(tmp_path / "model-1")
    assert mgr.save(checkpoint_number=100) == str(tmp_path / "model-100")
    assert ck.save_counter == 2  # incremented even with an explicit number, as TF
    assert mgr.save(checkpoint_number=np.int64(1)) == str(tmp_path / "model-1")
    assert mgr.checkpoints == [str(tmp_path / "model-100"), str(tmp_path / "model-1")]
    with pytest.raises(ValueError, match="max_to_keep"):
        tfc.CheckpointManager(ck, tmp_path, max_to_keep=0)


def test_manager_old_directory_first_form_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match=r"CheckpointManager\(checkpoint, directory"):
        tfc.CheckpointManager(tmp_path, "x", 3)
    mgr = tfc.CheckpointManager(tfc.Checkpoint(a=np.ones(1)), tmp_path, max_to_keep=1)
    with pytest.raises(TypeError, match="objects saved are the manager's checkpoint"):
        mgr.save({"a": np.ones(1)})


def test_manager_interval_and_init_fn(tmp_path: Path) -> None:
    step = np.zeros((), np.int64)  # updated in place by the loop
    called = []
    mgr = tfc.CheckpointManager(
        tfc.Checkpoint(step=step),
        tmp_path,
        max_to_keep=None,
        step_counter=step,
        checkpoint_interval=3,
        init_fn=lambda: called.append(1),
    )
    assert mgr.restore_or_initialize() is None and called == [1]
    saved = []
    for i in range(8):
        step[...] = i
        saved.append(mgr.save())
    assert [p is not None for p in saved] == [True, False, False, True, False, False, True, False]
    assert mgr.save(check_interval=False) == str(tmp_path / "ckpt-4")  # step 7, forced
    assert mgr.save(check_interval=False) is None  # the same step as the last save
    mgr.sync()
    with pytest.raises(ValueError, match="step_counter"):
        tfc.CheckpointManager(tfc.Checkpoint(), tmp_path, 1, checkpoint_interval=2)


def test_manager_keep_every_n_hours(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    mgr = tfc.CheckpointManager(
        tfc.Checkpoint(w=np.ones(1, np.float32)),
        tmp_path,
        max_to_keep=1,
        keep_checkpoint_every_n_hours=1,
    )
    saved = []
    for _ in range(5):
        clock[0] += 1800  # half an hour apart
        saved.append(mgr.save())
    # ckpt-2 (1 h after the start) and ckpt-4 (1 h after ckpt-2) are preserved forever
    on_disk = sorted(n[: -len(".index")] for n in _files(tmp_path) if n.endswith(".index"))
    assert on_disk == ["ckpt-2", "ckpt-4", "ckpt-5"]
    assert mgr.checkpoints == [saved[-1]]
    st = tfc.get_checkpoint_state(tmp_path)
    assert st is not None and st.last_preserved_timestamp == 1_000_000.0 + 4 * 1800


def test_manager_ignores_debris_and_foreign_paths(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    tfc.save(other / "ckpt-1", {"a": 1})
    run = tmp_path / "run"
    run.mkdir()
    (run / "ckpt-9.index.tempstate123").write_bytes(b"x")
    (run / "ckpt-9_temp").mkdir()
    now = time.time()
    tfc.update_checkpoint_state(
        run,
        str(other / "ckpt-1"),
        [str(other / "ckpt-1")],
        all_model_checkpoint_timestamps=[now - 10],
        last_preserved_timestamp=now - 100,
        save_relative_paths=False,
    )
    mgr = tfc.CheckpointManager(tfc.Checkpoint(w=np.ones(1, np.float32)), run, max_to_keep=1)
    assert mgr.checkpoints == []  # the foreign path is not managed
    for _ in range(3):
        mgr.save()
    assert (other / "ckpt-1.index").exists()  # never deleted
    assert "ckpt-9.index.tempstate123" in _files(run)
    assert mgr.checkpoints == [os.path.join(str(run), "ckpt-3")]


def test_manager_time_went_back(tmp_path: Path) -> None:
    future = time.time() + 10_000
    tfc.save(tmp_path / "ckpt-1", {"a": 1})
    tfc.update_checkpoint_state(
        tmp_path,
        str(tmp_path / "ckpt-1"),
        [str(tmp_path / "ckpt-1")],
        all_model_checkpoint_timestamps=[future + 5],
        last_preserved_timestamp=future,
    )
    ck = tfc.Checkpoint(a=np.int32(2))
    with pytest.warns(UserWarning, match="seconds behind the last preserved checkpoint"):
        mgr = tfc.CheckpointManager(ck, tmp_path, max_to_keep=1)
    # the preserved time is capped to now and the checkpoint's stamp too: it is not managed
    # any more, hence never deleted by this manager (TF's rule)
    assert mgr.checkpoints == []
    mgr.save(checkpoint_number=2)
    assert (tmp_path / "ckpt-1.index").exists()


def test_manager_refuses_corrupt_state(tmp_path: Path) -> None:
    (tmp_path / "checkpoint").write_bytes(b"\xffgarbage: {")
    with pytest.raises(tfc.CorruptCheckpointError) as e:
        tfc.CheckpointManager(tfc.Checkpoint(), tmp_path, 3)
    assert e.value.path == str(tmp_path / "checkpoint")


_FIXTURES = Path(__file__).resolve().parent.parent / "testdata"


@pytest.mark.parametrize(
    "rel",
    [
        "keras3/ckpt",
        "keras_tf_keras/adam/ckpt",
        "keras_tf_keras/legacy_adam/ckpt",
        "manager/ckpt-3",
        "module_dtypes/saved/ckpt-1",
        "module_dtypes/written/ckpt",
        "savedmodel/model/variables/variables",
    ],
)
def test_fixture_rewrite_is_byte_identical(tmp_path: Path, rel: str) -> None:
    """TF 2.21 files read and written back unchanged give TF's bytes (graph kept, data in
    TF's order, quantized dtypes kept)."""
    src = _FIXTURES / rel
    if not Path(f"{src}.index").exists():
        pytest.skip("fixtures not present")
    out = tfc.Checkpoint.from_checkpoint(src).write(tmp_path / "out", fsync=False)
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(out + suffix).read_bytes() == Path(f"{src}{suffix}").read_bytes(), suffix


def test_writer_dtype_override(tmp_path: Path) -> None:
    from tfckpt_lite._dtypes import dtype_from_name

    q = dtype_from_name("qint8")
    with tfc.BundleWriter(tmp_path / "q") as w:
        w.add("q", np.array([1, -2], np.int8), dtype=q)
        with pytest.raises(ValueError, match="cannot be stored as qint8"):
            w.add("f", np.zeros(2, np.float32), dtype=q)
    with tfc.load_checkpoint(tmp_path / "q") as r:
        assert r.dtype("q") == "qint8"
        assert r["q"].tolist() == [1, -2]


def test_manager_manages_a_kept_graph_checkpoint(tmp_path: Path) -> None:
    src = tfc.Checkpoint(w=np.ones(1, np.float32))
    src.save(tmp_path / "src" / "ck")
    src.save(tmp_path / "src" / "ck")
    edited = tfc.Checkpoint.from_checkpoint(tmp_path / "src" / "ck-2")  # save_counter 2
    mgr = tfc.CheckpointManager(edited, tmp_path / "run", max_to_keep=3)
    p = mgr.save()
    assert p == str(tmp_path / "run" / "ckpt-3")
    assert tfc.load_tree(p)["save_counter"] == 3
