"""The inspection module from Python: listings, statistics, diffs and trees as typed data, and
the CLI's command table (a new subcommand is one `Command` entry)."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite import _inspect as ins
from tfckpt_lite._cli import COMMANDS, EXIT_DIFFERENT, Command, build_parser, main


@pytest.fixture
def pair(tmp_path: Path) -> tuple[str, str]:
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    tfc.save(
        a,
        {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3),
            "nan": np.array([np.nan, np.inf, 1.0], np.float32),
            "emb": np.ones((4, 2), ml_dtypes.bfloat16),
            "s": np.array([b"x", b"y"], dtype=object),
            "gone": np.int64(1),
        },
    )
    tfc.save(
        b,
        {
            "w": np.arange(6, dtype=np.float32).reshape(2, 3) + np.float32(0.5),
            "nan": np.array([np.nan, np.inf, 1.0], np.float32),
            "emb": np.ones((2, 4), ml_dtypes.bfloat16),
            "s": np.array([b"x", b"z"], dtype=object),
            "new": np.zeros(3, np.int8),
        },
    )
    return a, b


def test_diff_checkpoints_returns_typed_changes(pair: tuple[str, str]) -> None:
    seen: list[str] = []
    with tfc.load_checkpoint(pair[0]) as ra, tfc.load_checkpoint(pair[1]) as rb:
        d = ins.diff_checkpoints(ra, rb, progress=lambda i, n, k: seen.append(k))
    assert seen == ["emb", "nan", "s", "w"]  # every common key, sorted
    assert [t.name for t in d.added] == ["new"] and d.added[0].shape == (3,)
    assert [t.name for t in d.removed] == ["gone"]
    by_name = {c.name: c for c in d.changed}
    assert by_name["w"].max_abs_diff == 0.5
    assert by_name["emb"].shape == ((4, 2), (2, 4)) and by_name["emb"].max_abs_diff is None
    assert by_name["s"].values_differ
    assert d.unchanged == 1 and d.differs  # "nan": NaN and inf at the same places are equal
    assert d.to_json()["changed"][0] == {"name": "emb", "shape": [[4, 2], [2, 4]]}
    assert "~ w  max abs diff 0.5" in d.lines()
    with tfc.load_checkpoint(pair[0]) as ra:
        same = ins.diff_checkpoints(ra, ra)
    assert not same.differs and same.unchanged == 5


def test_max_abs_diff_nan_on_one_side_and_atol(pair: tuple[str, str]) -> None:
    a = np.array([1.0, np.nan], np.float32)
    assert math.isnan(ins.max_abs_diff(a, np.array([1.0, 2.0], np.float32)) or 0.0)
    assert ins.max_abs_diff(a, a.copy()) == 0.0
    with tfc.load_checkpoint(pair[0]) as ra, tfc.load_checkpoint(pair[1]) as rb:
        d = ins.diff_checkpoints(ra, rb, atol=0.5)
    assert "w" not in {c.name for c in d.changed}


def test_stats_listing_and_tree(pair: tuple[str, str]) -> None:
    st = ins.tensor_stats(np.array([1.0, np.nan, -2.0, 0.0], np.float32))
    assert st["nan"] == 1 and st["zeros"] == 1 and st["min"] == -2.0 and st["count"] == 4
    assert st["mean"] == pytest.approx(-1 / 3)
    assert ins.tensor_stats(np.array([b"ab", b""], dtype=object)) == {
        "count": 2,
        "min_len": 0,
        "max_len": 2,
    }
    big = np.arange(ins.CHUNK * 2 + 5, dtype=np.float64)  # spans three chunks
    assert ins.tensor_stats(big)["mean"] == pytest.approx(big.mean())
    with tfc.load_checkpoint(pair[0]) as r:
        rows = ins.list_tensors(r, ["*e*"], sort="size")
        assert [(x.name, x.size) for x in rows] == [("emb", 16), ("gone", 8)]
        with pytest.raises(ValueError, match="sort"):
            ins.list_tensors(r, sort="dtype")
        tree = ins.checkpoint_tree(r)
        assert tree.by == "names" and tree.tree["w"] == ins.TensorInfo(
            "w", "w", "float32", (2, 3), 24
        )
        assert ins.tree_lines(tree)[-1] == "└── w  float32[2,3]"
        with pytest.raises(tfc.TensorNotFoundError, match="did you mean 'emb'"):
            ins.resolve_name(r, "emd")


def test_name_tree_is_load_trees_layout(tmp_path: Path) -> None:
    """`tfckpt tree` of a name-based checkpoint nests keys as `load_tree` does (one rule,
    `nest_names`): a key that is also a group (TF1 optimizer slots) is the group's "";
    drawn, it is the leaf just before the group, as the keys read."""
    keys = ["dense/kernel", "dense/kernel/Adam", "dense/kernel/Adam_1", "step"]
    prefix = tfc.save(tmp_path / "n", {k: np.float32(i) for i, k in enumerate(keys)})
    with tfc.load_checkpoint(prefix) as r:
        tree = ins.checkpoint_tree(r)
    loaded = tfc.load_tree(prefix)
    assert list(tree.tree) == list(loaded) == ["dense", "step"]
    assert list(tree.tree["dense"]["kernel"]) == list(loaded["dense"]["kernel"])
    assert tree.tree["dense"]["kernel"][""].key == "dense/kernel"
    assert ins.tree_lines(tree)[1:] == [
        "├── dense/",
        "│   ├── kernel  float32[]",
        "│   └── kernel/",
        "│       ├── Adam  float32[]",
        "│       └── Adam_1  float32[]",
        "└── step  float32[]",
    ]
    clash = tfc.save(tmp_path / "c", {"a": np.float32(0), "a//b": np.float32(1)})
    with (
        tfc.load_checkpoint(clash) as r,
        pytest.raises(tfc.errors.InvalidArgumentError, match="'a'"),
    ):
        ins.checkpoint_tree(r)
    with pytest.raises(tfc.errors.InvalidArgumentError, match="same place"):
        tfc.load_tree(clash)


def test_a_command_is_one_entry(capsys: pytest.CaptureFixture[str]) -> None:
    def hello_arguments(p: argparse.ArgumentParser) -> None:
        p.add_argument("who")

    def hello(args: argparse.Namespace) -> int:
        print(f"hello {args.who}", "(quiet)" if args.quiet else "")
        return 0

    parser = build_parser((*COMMANDS, Command("hello", "say hello", hello_arguments, hello)))
    args = parser.parse_args(["hello", "you", "-q"])
    assert args.run(args) == 0
    assert capsys.readouterr().out.startswith("hello you (quiet)")
    assert "hello" in parser.format_help() and "convert" in parser.format_help()


def test_diff_exit_code_is_documented(
    capsys: pytest.CaptureFixture[str], pair: tuple[str, str]
) -> None:
    assert main(["diff", "--help"]) == 0
    out = capsys.readouterr().out
    assert f"exit with status {EXIT_DIFFERENT} when the checkpoints differ" in out
    assert f"  {EXIT_DIFFERENT}  diff --exit-code: the checkpoints differ" in out
    assert main(["diff", *pair, "--exit-code", "-q"]) == EXIT_DIFFERENT


def test_graph_walk_enters_each_object_once() -> None:
    """`ObjectGraph.walk`: depth first in child order; a shared node and a cycle back to the
    root are reported where met, with the path they were first entered at."""
    from tfckpt_lite._graph import ObjectGraph
    from tfckpt_lite._proto import trackable_object_graph_pb2 as pb

    g = pb.TrackableObjectGraph()
    edges = {0: [("a", 1), ("b", 2)], 1: [("x", 3)], 2: [("y", 3), ("up", 0)], 3: []}
    for i in range(4):
        node = g.nodes.add()
        for name, child in edges[i]:
            node.children.add(node_id=child, local_name=name)
    steps = list(ObjectGraph(g, "p").walk())
    assert [(s.path, s.node.id, s.first_seen) for s in steps] == [
        (("a",), 1, None),
        (("a", "x"), 3, None),
        (("b",), 2, None),
        (("b", "y"), 3, ("a", "x")),
        (("b", "up"), 0, ()),
    ]
    chain = pb.TrackableObjectGraph()
    for i in range(5000):  # deeper than Python's recursion limit
        node = chain.nodes.add()
        if i < 4999:
            node.children.add(node_id=i + 1, local_name="c")
    last = list(ObjectGraph(chain, "p").walk())[-1]
    assert len(last.path) == 4999 and last.node.id == 4999
