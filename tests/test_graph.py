"""ObjectGraph: parsing, validation, navigation (paths/find) on shared and cyclic graphs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tfckpt_lite as tfc
from tfckpt_lite._naming import (
    OBJECT_GRAPH_KEY,
    escape_local_name,
    split_path,
    unescape_local_name,
)
from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

Obj = pb.TrackableObjectGraph.TrackableObject


def _graph(spec: list[dict[str, object]]) -> pb.TrackableObjectGraph:
    """Nodes from dicts: children=[(id, name)], attrs=[key], slots=[(orig, name, slot)]."""
    g = pb.TrackableObjectGraph()
    for n in spec:
        o = g.nodes.add()
        for cid, name in n.get("children", []):  # type: ignore[attr-defined]
            o.children.add(node_id=cid, local_name=name)
        for key in n.get("attrs", []):  # type: ignore[attr-defined]
            o.attributes.add(name="VARIABLE_VALUE", full_name="Variable", checkpoint_key=key)
        for orig, name, slot in n.get("slots", []):  # type: ignore[attr-defined]
            o.slot_variables.add(
                original_variable_node_id=orig, slot_name=name, slot_variable_node_id=slot
            )
    return g


# FORMAT.md 6.4's observed example (TF 2.21, Checkpoint(net=Module(), v=var, optimizer=Adam V1)).
SLOT_GRAPH: list[dict[str, object]] = [
    {"children": [(1, "net"), (2, "optimizer"), (3, "v")]},
    {},
    {"children": [(4, "beta1_power"), (5, "beta2_power")], "slots": [(3, "m", 6), (3, "v", 7)]},
    {"attrs": ["v/.ATTRIBUTES/VARIABLE_VALUE"]},
    {"attrs": ["optimizer/beta1_power/.ATTRIBUTES/VARIABLE_VALUE"]},
    {"attrs": ["optimizer/beta2_power/.ATTRIBUTES/VARIABLE_VALUE"]},
    {"attrs": ["v/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"]},
    {"attrs": ["v/.OPTIMIZER_SLOT/optimizer/v/.ATTRIBUTES/VARIABLE_VALUE"]},
]


def test_escape_observed_example() -> None:
    assert escape_local_name("a.b/c") == "a..b.Sc"  # observed in TF 2.21 keys
    assert unescape_local_name("a..b.Sc") == "a.b/c"
    with pytest.raises(ValueError):
        unescape_local_name("a.x")
    assert split_path("model/a..b.Sc/0") == ["model", "a.b/c", "0"]


@given(st.text())
def test_escape_round_trip(name: str) -> None:
    esc = escape_local_name(name)
    assert "/" not in esc
    assert unescape_local_name(esc) == name


def test_slot_graph_navigation() -> None:
    g = tfc.ObjectGraph(_graph(SLOT_GRAPH), "x")
    assert len(g) == 8 and g.root.id == 0
    assert list(g.root.children) == ["net", "optimizer", "v"]
    opt = g.find("optimizer")
    assert [(s.original_variable, s.slot_name, s.slot_variable) for s in opt.slot_variables] == [
        (3, "m", 6),
        (3, "v", 7),
    ]
    key = "v/.OPTIMIZER_SLOT/optimizer/m/.ATTRIBUTES/VARIABLE_VALUE"
    assert g.owner(key).id == 6
    assert g.paths(key) == ["v/.OPTIMIZER_SLOT/optimizer/m"]
    assert g.find("v/.OPTIMIZER_SLOT/optimizer/m").id == 6
    assert g.find(["v", ".OPTIMIZER_SLOT", "optimizer", "v"]).id == 7
    assert g[6].path == "v/.OPTIMIZER_SLOT/optimizer/m"
    assert g.find("v").attributes["VARIABLE_VALUE"].checkpoint_key == "v/.ATTRIBUTES/VARIABLE_VALUE"
    assert g.find("v").attributes["VARIABLE_VALUE"].full_name == "Variable"
    with pytest.raises(KeyError):
        g.find("v/.OPTIMIZER_SLOT/optimizer/nope")
    with pytest.raises(KeyError):
        g.find("nope")
    with pytest.raises(tfc.TensorNotFoundError):
        g.owner("nope")


def test_keras3_alias_paths() -> None:
    # Keras 3 shape: the kernel is first reached as optimizer/_trainable_variables/0 (the
    # Checkpoint's children: model, optimizer; optimizer is also tracked under the model).
    spec: list[dict[str, object]] = [
        {"children": [(1, "model"), (2, "optimizer")]},
        {"children": [(3, "dense"), (2, "optimizer")]},
        {"children": [(4, "_trainable_variables")]},
        {"children": [(5, "kernel")]},
        {"children": [(5, "0")]},
        {"attrs": ["optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"]},
    ]
    g = tfc.ObjectGraph(_graph(spec))
    key = "optimizer/_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
    assert g.paths(key) == [
        "model/dense/kernel",
        "optimizer/_trainable_variables/0",
        "model/optimizer/_trainable_variables/0",
    ] or g.paths(key) == [
        "optimizer/_trainable_variables/0",
        "model/dense/kernel",
        "model/optimizer/_trainable_variables/0",
    ]
    # The canonical (breadth-first, key-giving) path comes first among equals.
    assert g.paths(key)[0] == g[5].path == "model/dense/kernel"
    assert g.find("model/dense/kernel") is g.find("optimizer/_trainable_variables/0")


def test_cycles_terminate() -> None:
    spec: list[dict[str, object]] = [
        {"children": [(1, "a")]},
        {"children": [(2, "b"), (0, "root")]},
        {"children": [(1, "back"), (3, "leaf"), (2, "self")]},
        {"attrs": ["a/b/leaf/.ATTRIBUTES/VARIABLE_VALUE"]},
    ]
    g = tfc.ObjectGraph(_graph(spec))
    assert g.paths("a/b/leaf/.ATTRIBUTES/VARIABLE_VALUE") == ["a/b/leaf"]
    assert g.find("a/root/a/b/back/b/self/leaf").id == 3
    assert g.paths(0) == [""]


def test_path_explosion_is_capped() -> None:
    # A ladder of 40 diamonds has 2**40 simple paths to its last node.
    spec: list[dict[str, object]] = []
    n = 40
    for i in range(n):
        base = 3 * i
        spec.append({"children": [(base + 1, "l"), (base + 2, "r")]})
        spec.append({"children": [(base + 3, "x")]})
        spec.append({"children": [(base + 3, "x")]})
    spec.append({"attrs": ["k"]})
    g = tfc.ObjectGraph(_graph(spec))
    t0 = time.process_time()  # CPU time: other load on the machine does not count
    paths = g.paths("k", limit=50)
    assert time.process_time() - t0 < 10
    assert 1 <= len(paths) <= 50
    assert all(p.count("/") == 2 * n - 1 for p in paths)
    assert paths[0] == g[3 * n].path


def test_breadth_first_walk_enters_objects_at_their_canonical_paths() -> None:
    # Keras 3's shape (a kernel reached at depth 3 and depth 2), plus a cycle back to the root.
    spec: list[dict[str, object]] = [
        {"children": [(1, "model"), (2, "optimizer")]},
        {"children": [(3, "dense"), (2, "optimizer"), (0, "root")]},
        {"children": [(4, "_trainable_variables")]},
        {"children": [(5, "kernel")]},
        {"children": [(5, "0/x")]},
        {"attrs": ["k"]},
    ]
    g = tfc.ObjectGraph(_graph(spec))
    steps = list(g.walk(breadth_first=True))
    entered = {
        s.node.id: "/".join(map(escape_local_name, s.path)) for s in steps if s.first_seen is None
    }
    assert entered == {i: p for i, p in g.canonical_paths().items() if i}
    assert [(s.parent.id, s.name, s.node.id, s.first_seen) for s in steps] == [
        (0, "model", 1, None),
        (0, "optimizer", 2, None),
        (1, "dense", 3, None),
        (1, "optimizer", 2, ("optimizer",)),
        (1, "root", 0, ()),
        (2, "_trainable_variables", 4, None),
        (3, "kernel", 5, None),
        (4, "0/x", 5, ("model", "dense", "kernel")),
    ]


def _all_simple_paths(g: tfc.ObjectGraph, target: int) -> list[str]:
    """Every simple path from the root to `target`, by brute force (depth first, forward)."""
    out: list[str] = []
    stack: list[tuple[int, list[str], frozenset[int]]] = [(0, [], frozenset({0}))]
    while stack:
        nid, names, seen = stack.pop()
        if nid == target:
            out.append("/".join(names))
            continue
        for name, cid in g[nid].child_ids:
            if cid not in seen:
                stack.append((cid, [*names, escape_local_name(name)], seen | {cid}))
    return out


def test_paths_on_a_diamond_graph_match_brute_force() -> None:
    # A ladder of 6 diamonds (64 paths to the end), with a shortcut from the root into the
    # middle, an edge back up (a cycle) and names that need escaping.
    spec: list[dict[str, object]] = []
    n = 6
    for i in range(n):
        base = 3 * i
        top = [(base + 2, "r.b"), (base + 1, "l/a")] + ([(9, "short")] if i == 0 else [])
        spec.append({"children": top})
        spec.append({"children": [(base + 3, "x")]})
        spec.append({"children": [(base + 3, "x"), *([(base - 3, "up")] if i == 2 else [])]})
    spec.append({"attrs": ["k"]})
    g = tfc.ObjectGraph(_graph(spec))
    for target in range(len(g)):
        expected = _all_simple_paths(g, target)
        canonical = g[target].path

        def rank(p: str, canonical: str | None = canonical) -> tuple[int, bool, str]:
            return (p.count("/") + 1 if p else 0, p != canonical, p)

        assert g.paths(target) == sorted(expected, key=rank), target
        cut = g.paths(target, limit=5)
        assert cut[0] == canonical and set(cut) <= set(expected)
        assert len(cut) == min(5, len(expected))
        assert [rank(p)[0] for p in cut] == sorted(rank(p)[0] for p in expected)[: len(cut)]
    assert len(g.paths(3 * n)) == 2**n + 2**3  # through the middle: the shortcut, or not


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ([], "no nodes"),
        ([{"children": [(5, "x")]}], "child node 5"),
        ([{"children": [(-1, "x")]}], "child node -1"),
        ([{"slots": [(0, "m", 9)]}], "slot variable node 9"),
        ([{"children": [(0, "x"), (0, "x")]}], "two children named"),
        ([{"attrs": ["k1", "k2"]}], "two attributes named"),
    ],
)
def test_invalid_graphs(spec: list[dict[str, object]], match: str) -> None:
    data = _graph(spec).SerializeToString()
    with pytest.raises(tfc.CorruptCheckpointError, match=match) as e:
        tfc.ObjectGraph.from_bytes(data, "/some/ckpt")
    assert e.value.path == "/some/ckpt"
    assert e.value.key == OBJECT_GRAPH_KEY


@pytest.mark.parametrize("data", [b"\xff\xff\xff", b"\x0a\x80", b"\x0a\x05\x0a\x03\x08"])
def test_garbage_bytes(data: bytes) -> None:
    with pytest.raises(tfc.CorruptCheckpointError) as e:
        tfc.ObjectGraph.from_bytes(data, "p")
    assert e.value.path == "p"


@given(st.binary(max_size=64))
def test_random_bytes_never_escape(data: bytes) -> None:
    try:
        g = tfc.ObjectGraph.from_bytes(data, "p")
    except tfc.CorruptCheckpointError:
        return
    for node in g:  # whatever parsed is navigable without errors or hangs
        g.paths(node.id)
        assert isinstance(dict(node.children), dict)


def test_reader_object_graph(tmp_path: Path) -> None:
    tfc.save(tmp_path / "named", {"a": 1})
    with tfc.load_checkpoint(tmp_path / "named") as r:
        assert r.object_graph is None
    tfc.Checkpoint(model={"w": np.ones(2, np.float32)}).write(tmp_path / "obj")
    with tfc.load_checkpoint(tmp_path / "obj") as r:
        g = r.object_graph
        assert g is not None
        assert g.find("model/w").value_key == "model/w/.ATTRIBUTES/VARIABLE_VALUE"
        assert g.checkpoint_keys() == ["model/w/.ATTRIBUTES/VARIABLE_VALUE"]
        assert g.root.has_checkpoint_values is True
        assert g.root.registered_saver is None


def test_corrupt_graph_tensor_in_checkpoint(tmp_path: Path) -> None:
    tfc.save(tmp_path / "bad", {OBJECT_GRAPH_KEY: b"\x0a\x05\x0a\x03\x08\x07"})
    with tfc.load_checkpoint(tmp_path / "bad") as r, pytest.raises(tfc.CorruptCheckpointError) as e:
        _ = r.object_graph
    assert e.value.path == str(tmp_path / "bad")


def _realworld() -> Path | None:
    env = os.environ.get("TFCKPT_REALWORLD")
    here = Path(__file__).resolve().parent.parent
    for cand in (
        env,
        here.parent / "shared" / "real-world-checkpoints",
        "/work/shared/real-world-checkpoints",
    ):
        if cand and Path(cand).is_dir():
            return Path(cand)
    return None


def test_realworld_graphs_navigable() -> None:
    """Every object graph of the real-world corpus parses, and each key's first path leads
    back to its owner; load_tree never fails on the content; every state file parses."""
    root = _realworld()
    if root is None:
        pytest.skip("real-world corpus not available")
    graphs = 0
    for index in sorted(root.rglob("*.index")):
        prefix = str(index)[: -len(".index")]
        try:
            with tfc.load_checkpoint(prefix) as r:
                g = r.object_graph
        except tfc.CheckpointNotFoundError:
            continue  # a corpus entry without its data file
        if g is None:
            continue
        graphs += 1
        for key in g.checkpoint_keys():
            paths = g.paths(key)
            assert paths and g.find(paths[0]) is g.owner(key), key
        try:
            tfc.load_tree(prefix)
        except tfc.CheckpointNotFoundError:
            pass
    assert graphs >= 10
    for state in root.rglob("checkpoint"):
        if state.is_file():
            s = tfc.get_checkpoint_state(state.parent)
            assert s is not None and s.model_checkpoint_path


def test_prefix_attribute_keys(tmp_path: Path) -> None:
    # A legacy saveable's attribute key is a prefix of the keys it stores (TF matches by
    # prefix): one tensor under it is its value, several a {suffix: value} dict.
    g = _graph(
        [
            {"children": [(1, "it"), (2, "two")]},
            {"attrs": ["it/.ATTRIBUTES/ITERATOR"]},
            {"attrs": ["two/.ATTRIBUTES/X"]},
        ]
    )
    tfc.save(
        tmp_path / "p",
        {
            "it/.ATTRIBUTES/ITERATOR_STATE": b"state",
            "two/.ATTRIBUTES/X_a": np.int32(1),
            "two/.ATTRIBUTES/X_b": np.int32(2),
            OBJECT_GRAPH_KEY: g.SerializeToString(),
        },
    )
    with tfc.load_checkpoint(tmp_path / "p") as r:
        og = r.object_graph
        assert og is not None
        assert og.owner("it/.ATTRIBUTES/ITERATOR_STATE").id == 1
        assert og.paths("two/.ATTRIBUTES/X_b") == ["two"]
    t = tfc.load_tree(tmp_path / "p")
    assert t["it"] == b"state"
    assert t["two"] == {"_a": 1, "_b": 2}


def test_iterator_fixture_owner() -> None:
    # TF 2.21 fixture: graph key it/.ATTRIBUTES/ITERATOR, stored it/.ATTRIBUTES/ITERATOR_STATE.
    prefix = Path(__file__).resolve().parent.parent / "testdata" / "iterator_variant" / "ckpt"
    if not Path(str(prefix) + ".index").exists():
        pytest.skip("fixtures not present")
    with tfc.load_checkpoint(prefix) as r:
        g = r.object_graph
        assert g is not None
        assert g.paths("it/.ATTRIBUTES/ITERATOR_STATE") == ["it"]
    with pytest.raises(tfc.UnsupportedCheckpointError):
        tfc.load_tree(prefix)  # DT_VARIANT values are opaque; never silently dropped
