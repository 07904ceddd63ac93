"""Checkpoint surgery without TensorFlow: edits of TF-written fixtures checked against their
known content (keys, values, graphs), byte identity of an edit that changes nothing, and
hostile inputs (every failure: a clear error and no output left behind).

The live checks (TF restores every output, sizes against TF's own checkpoints, reshard bytes)
are in test_edit_tf.py."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import ml_dtypes
import numpy as np
import pytest

import tfckpt_lite as tfc
import tfckpt_lite.torch as tft
from tfckpt_lite._cli import main

DATA = Path(__file__).resolve().parents[1] / "testdata"
VV = "/.ATTRIBUTES/VARIABLE_VALUE"
GRAPH = "_CHECKPOINTABLE_OBJECT_GRAPH"


def fixture(name: str) -> str:
    prefix = DATA / name
    if not Path(str(prefix) + ".index").exists():
        pytest.skip(f"fixture {name} not present")
    return str(prefix)


def files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def graph_of(prefix: str | Path) -> tfc.ObjectGraph:
    g = tfc.load_checkpoint(prefix).object_graph
    assert g is not None
    return g


# -- identity -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "keras3/ckpt",
        "keras_tf_keras/adam/ckpt",
        "keras_tf_keras/legacy_adam/ckpt",
        "manager/ckpt-3",
    ],
)
def test_edit_that_changes_nothing_keeps_tf_bytes(tmp_path: Path, name: str) -> None:
    src = fixture(name)
    report = tfc.edit(src, tmp_path / "out", fsync=False)
    assert not report.dropped and not report.renamed and not report.cast
    for suffix in (".index", ".data-00000-of-00001"):
        assert Path(str(tmp_path / "out") + suffix).read_bytes() == Path(src + suffix).read_bytes()


# -- strip ----------------------------------------------------------------------------------


def test_strip_tf_keras_slots_and_optimizer(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    out = tmp_path / "s"
    report = tfc.edit(src, out, strip=True)
    r, s = tfc.load(src), tfc.load(out)
    weights = {k for k in r if k.startswith("layer_with_weights") and ".OPTIMIZER_SLOT" not in k}
    assert set(s) == weights | {GRAPH}
    for k in weights:
        assert np.array_equal(s[k], r[k])
    assert sum(why == "optimizer slot" for why in report.dropped.values()) == 12
    assert report.dropped["optimizer/iter" + VV] == "optimizer state or counter"
    g = graph_of(out)
    assert "optimizer" not in g.root.children
    assert not any(n.slot_variables for n in g)
    # the aliases tf-keras keeps (layer-0 is layer_with_weights-0) survive
    assert g.find("layer-0/kernel") is g.find("layer_with_weights-0/kernel")
    assert set(g.checkpoint_keys()) == weights


def test_strip_keras3_gives_model_paths_back(tmp_path: Path) -> None:
    src = fixture("keras3/ckpt")
    out = tmp_path / "s"
    report = tfc.edit(src, out, strip=True)
    before, after = tfc.load(src), tfc.load(out)
    kernel = "model/_functional/_operations/1/_kernel" + VV
    # Keras 3 stores this kernel as optimizer/_trainable_variables/0; without the optimizer
    # TF would name it by its model path, and so does the edit
    assert report.renamed["optimizer/_trainable_variables/0" + VV] == kernel
    assert np.array_equal(after[kernel], before["optimizer/_trainable_variables/0" + VV])
    assert not any(k.startswith("optimizer") for k in after)
    assert len(after) == 9  # 8 model variables and the graph
    g = graph_of(out)
    assert list(g.root.children) == ["model"]
    assert g.find("model/_functional/_operations/1/_kernel").value_key == kernel


def test_strip_keep_rescues_a_counter(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    tfc.edit(src, tmp_path / "k", strip=True, keep="optimizer/iter")
    got = tfc.load(tmp_path / "k")
    assert "optimizer/iter" + VV in got
    assert not any(".OPTIMIZER_SLOT" in k for k in got)
    g = graph_of(tmp_path / "k")
    assert set(g.root.children["optimizer"].children) == {"iter"}
    with pytest.raises(ValueError, match="keep: pattern 'optimizer/nope' matches no tensor"):
        tfc.edit(src, tmp_path / "k2", strip=True, keep="optimizer/nope")
    with pytest.raises(ValueError, match="only meaningful with strip"):
        tfc.edit(src, tmp_path / "k3", keep="optimizer/iter")
    assert not list(tmp_path.glob("k2*")) and not list(tmp_path.glob("k3*"))


def test_strip_counters_of_a_tf_checkpoint(tmp_path: Path) -> None:
    tfc.edit(fixture("manager/ckpt-3"), tmp_path / "s", strip=True)
    assert set(tfc.load(tmp_path / "s")) == {"v" + VV, GRAPH}
    assert list(graph_of(tmp_path / "s").root.children) == ["v"]


def test_strip_name_based(tmp_path: Path) -> None:
    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    tfc.save(
        tmp_path / "tf1",
        {
            "dense/kernel": w,
            "dense/kernel/Adam": w,
            "dense/kernel/Adam_1": w,
            "beta1_power": np.float32(0.9),
            "beta2_power": np.float32(0.99),
            "global_step": np.int64(7),
            "bert/encoder/adam_m": w,
            "emb/Momentum": w,
        },
    )
    report = tfc.edit(tmp_path / "tf1", tmp_path / "s", strip=True)
    assert set(tfc.load(tmp_path / "s")) == {"dense/kernel"}
    assert len(report.dropped) == 7


# -- select / exclude -------------------------------------------------------------------------


def test_select_by_model_path_subtree_and_exclude(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    tfc.edit(src, tmp_path / "a", select="layer_with_weights-1", exclude="*moving_*", strip=True)
    assert set(tfc.load(tmp_path / "a")) == {
        "layer_with_weights-1/beta" + VV,
        "layer_with_weights-1/gamma" + VV,
        GRAPH,
    }
    g = graph_of(tmp_path / "a")
    # the other layers lost every value and are gone; so are the aliases that led to them
    assert set(g.root.children) >= {"layer_with_weights-1", "layer-1"}
    assert "layer_with_weights-0" not in g.root.children
    # an alias path selects the same object
    tfc.edit(src, tmp_path / "b", select="layer-2/kernel")
    assert "layer_with_weights-2/kernel" + VV in tfc.load(tmp_path / "b")


def test_glob_that_matches_nothing_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    src = fixture("manager/ckpt-3")
    with pytest.raises(ValueError, match=r"select: pattern 'stpe' matches no tensor.*'step'"):
        tfc.edit(src, tmp_path / "x", select="stpe")
    with pytest.raises(ValueError, match="exclude: pattern"):
        tfc.edit(src, tmp_path / "x", exclude="nothing/*")
    with pytest.raises(ValueError, match="nothing left to write"):
        tfc.edit(src, tmp_path / "x", exclude="*")
    assert files(tmp_path) == []


# -- rename ------------------------------------------------------------------------------------


def test_rename_name_based_uses_to_torch_rules(tmp_path: Path) -> None:
    tfc.save(tmp_path / "a", {"enc/ln/gamma": np.ones(2), "enc/ln/beta": np.zeros(2)})
    rules = [*tft.LAYERNORM_RULES, (r"^enc/", "encoder/")]
    report = tfc.edit(tmp_path / "a", tmp_path / "b", rename=rules)
    assert set(tfc.load(tmp_path / "b")) == {"encoder/ln/weight", "encoder/ln/bias"}
    assert report.renamed == {"enc/ln/gamma": "encoder/ln/weight", "enc/ln/beta": "encoder/ln/bias"}
    # a None replacement drops, as in to_torch
    tfc.edit(tmp_path / "a", tmp_path / "c", rename=[(r"beta$", None)])
    assert set(tfc.load(tmp_path / "c")) == {"enc/ln/gamma"}


def test_rename_object_graph_renames_objects(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    tfc.edit(src, tmp_path / "r", strip=True, rename=[(r"^layer_with_weights-(\d)", r"dense_\1")])
    got = tfc.load(tmp_path / "r")
    assert "dense_0/kernel" + VV in got
    g = graph_of(tmp_path / "r")
    assert g.find("dense_0/kernel").value_key == "dense_0/kernel" + VV
    # the alias edge (layer-0) is not on any key path and keeps its name
    assert g.find("layer-0/kernel") is g.find("dense_0/kernel")


def test_rename_that_the_graph_cannot_hold(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    # one tensor of an object renamed, its sibling not: the object cannot have two names
    with pytest.raises(ValueError, match=r"would rename the same object.*name_based"):
        tfc.edit(src, tmp_path / "x", strip=True, rename=[(r"-0/kernel$", "-9/kernel")])
    with pytest.raises(ValueError, match="changes the depth"):
        tfc.edit(src, tmp_path / "x", strip=True, rename=[("^layer_with_weights-0/", "a/b/")])
    with pytest.raises(ValueError, match="two objects would be named"):
        tfc.edit(src, tmp_path / "x", strip=True, rename=[("^layer_with_weights-[01]/", "L/")])
    assert files(tmp_path) == []
    # ... which a flat checkpoint can
    tfc.edit(
        src,
        tmp_path / "flat",
        strip=True,
        name_based=True,
        rename=[("^layer_with_weights-0/kernel", "first/w")],
    )
    got = tfc.load(tmp_path / "flat")
    assert GRAPH not in got and "first/w" in got and "layer_with_weights-0/bias" in got


def test_rename_mistakes(tmp_path: Path) -> None:
    tfc.save(tmp_path / "a", {"x": np.ones(1), "y": np.ones(1)})
    with pytest.raises(ValueError, match="both become 'z'"):
        tfc.edit(tmp_path / "a", tmp_path / "b", rename=[("^.$", "z")])
    with pytest.raises(ValueError, match=r"rename\[0\]: bad regex"):
        tfc.edit(tmp_path / "a", tmp_path / "b", rename=[("(", "z")])
    with pytest.raises(ValueError, match="a rule fails"):
        tfc.edit(tmp_path / "a", tmp_path / "b", rename=[("^(x)$", r"\2")])
    with pytest.raises(ValueError, match="empty name"):
        tfc.edit(tmp_path / "a", tmp_path / "b", rename=[("^x$", "")])
    with pytest.raises(TypeError, match="pairs"):
        tfc.edit(tmp_path / "a", tmp_path / "b", rename="x")  # type: ignore[arg-type]
    assert files(tmp_path) == ["a.data-00000-of-00001", "a.index"]


# -- cast --------------------------------------------------------------------------------------


def test_cast_floats_only_and_report_overflow(tmp_path: Path) -> None:
    big = np.array([1.0, 70000.0, -1e6, np.inf, np.nan], np.float32)
    tfc.save(
        tmp_path / "a",
        {
            "w": big,
            "d": np.array([0.1, 0.2]),
            "i": np.arange(3, dtype=np.int32),
            "s": [b"x"],
            "global_step": np.int64(3),
        },
    )
    report = tfc.edit(tmp_path / "a", tmp_path / "h", cast="float16")
    got = tfc.load(tmp_path / "h")
    assert got["w"].dtype == np.float16 and got["d"].dtype == np.float16
    with np.errstate(over="ignore"):
        assert np.array_equal(got["w"], big.astype(np.float16), equal_nan=True)
    assert got["i"].dtype == np.int32 and got["s"].tolist() == [b"x"]
    assert report.overflow == {"w": 2}  # 70000 and -1e6; inf and nan were not finite
    assert report.cast == {"d": "float64->float16", "w": "float32->float16"}
    assert "overflowed" in str(report)
    # by glob, bfloat16
    report = tfc.edit(tmp_path / "a", tmp_path / "b", cast={"w": "bfloat16"})
    got = tfc.load(tmp_path / "b")
    assert got["w"].dtype == ml_dtypes.bfloat16 and got["d"].dtype == np.float64
    assert report.overflow == {}
    with pytest.raises(ValueError, match="cast: pattern 'i' matches no floating-point"):
        tfc.edit(tmp_path / "a", tmp_path / "x", cast={"i": "float16"})
    with pytest.raises(ValueError, match="not one of"):
        tfc.edit(tmp_path / "a", tmp_path / "x", cast="int8")


def test_cast_leaves_optimizer_slots_alone(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    tfc.edit(src, tmp_path / "c", cast="bfloat16")
    with tfc.load_checkpoint(tmp_path / "c") as r:
        for k in r:
            if ".OPTIMIZER_SLOT" in k or k.startswith("optimizer/"):
                assert r.dtype(k) in ("float32", "int64"), k
            elif k != GRAPH:
                assert r.dtype(k) == "bfloat16", k


# -- merge / average ---------------------------------------------------------------------------


def test_merge_conflict_rules(tmp_path: Path) -> None:
    tfc.save(tmp_path / "ema", {"w": np.full(2, 5.0, np.float32)})
    tfc.save(tmp_path / "run", {"w": np.ones(2, np.float32), "step": np.int64(9)})
    with pytest.raises(ValueError, match=r"'w' is in .*on_conflict"):
        tfc.merge([tmp_path / "ema", tmp_path / "run"], tmp_path / "m")
    tfc.merge([tmp_path / "ema", tmp_path / "run"], tmp_path / "m", on_conflict="first")
    got = tfc.load(tmp_path / "m")
    assert got["w"].tolist() == [5, 5] and got["step"] == 9
    tfc.merge([tmp_path / "ema", tmp_path / "run"], tmp_path / "l", on_conflict="last")
    assert tfc.load(tmp_path / "l")["w"].tolist() == [1, 1]
    tfc.save(tmp_path / "odd", {"w": np.ones(3, np.float32)})
    with pytest.raises(ValueError, match=r"float32\[2\] in .* but float32\[3\]"):
        tfc.merge([tmp_path / "run", tmp_path / "odd"], tmp_path / "x", on_conflict="first")
    with pytest.raises(ValueError, match="on_conflict"):
        tfc.merge([tmp_path / "run"], tmp_path / "x", on_conflict="newest")
    with pytest.raises(TypeError, match="a list of checkpoints"):
        tfc.merge(str(tmp_path / "run"), tmp_path / "x")
    assert not list(tmp_path.glob("x*"))


def test_merge_object_based_keeps_a_graph_that_holds_everything(tmp_path: Path) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    tfc.edit(src, tmp_path / "w", strip=True)  # the model weights only
    k = "layer_with_weights-0/kernel" + VV
    ckpt = tfc.Checkpoint.from_checkpoint(tmp_path / "w")
    ckpt[k] = np.full((3, 4), 0.5, np.float32)
    ckpt.write(tmp_path / "ema")
    tfc.merge([tmp_path / "ema", src], tmp_path / "m", on_conflict="first")
    got, full = tfc.load(tmp_path / "m"), tfc.load(src)
    assert set(got) == set(full)
    assert np.all(got[k] == 0.5)
    assert graph_of(tmp_path / "m").to_bytes() == graph_of(src).to_bytes()
    # graphs that cannot hold each other's tensors
    tfc.save(tmp_path / "other", {"x": np.ones(1)})
    with pytest.raises(ValueError, match="no object graph holds"):
        tfc.merge([tmp_path / "w", tmp_path / "other"], tmp_path / "bad")
    tfc.merge([tmp_path / "w", tmp_path / "other"], tmp_path / "flat", name_based=True)
    assert "x" in tfc.load(tmp_path / "flat") and "layer_with_weights-0/kernel" in tfc.load(
        tmp_path / "flat"
    )


def test_average_accumulates_wider_than_input(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    xs = [rng.normal(size=(64, 33)).astype(np.float32) * 1e4 for _ in range(5)]
    hs = [np.full(3, v, np.float16) for v in (60000.0, 60000.0, 1.0)]
    for i, (x, h) in enumerate(zip(xs, hs * 2)):
        tfc.save(tmp_path / f"c{i}", {"x": x, "h": h, "step": np.int64(i), "s": [b"%d" % i]})
    srcs = [tmp_path / f"c{i}" for i in range(5)]
    tfc.average(srcs, tmp_path / "avg")
    got = tfc.load(tmp_path / "avg")
    want = (np.sum([x.astype(np.float64) for x in xs], axis=0) / 5).astype(np.float32)
    assert np.array_equal(got["x"], want)
    # float16 sums past its max (65504) do not overflow: accumulated in float64
    want_h = (np.sum([h.astype(np.float64) for h in (hs * 2)[:5]], axis=0) / 5).astype(np.float16)
    assert np.isfinite(got["h"]).all() and np.array_equal(got["h"], want_h)
    assert got["step"] == 0 and got["s"].tolist() == [b"0"]  # from the first source
    tfc.average(srcs[:2], tmp_path / "w", weights=[3, 1])
    wx = ((xs[0].astype(np.float64) * 3 + xs[1]) / 4).astype(np.float32)
    assert np.array_equal(tfc.load(tmp_path / "w")["x"], wx)


def test_average_mismatches(tmp_path: Path) -> None:
    tfc.save(tmp_path / "a", {"x": np.ones(2, np.float32)})
    tfc.save(tmp_path / "b", {"x": np.ones(3, np.float32)})
    tfc.save(tmp_path / "c", {"y": np.ones(2, np.float32)})
    tfc.save(tmp_path / "d", {"x": np.ones(2, np.float64)})
    with pytest.raises(ValueError, match=r"float32\[2\] in .* but float32\[3\]"):
        tfc.average([tmp_path / "a", tmp_path / "b"], tmp_path / "o")
    with pytest.raises(ValueError, match="does not hold the same tensors"):
        tfc.average([tmp_path / "a", tmp_path / "c"], tmp_path / "o")
    with pytest.raises(ValueError, match=r"float32\[2\] in .* but float64\[2\]"):
        tfc.average([tmp_path / "a", tmp_path / "d"], tmp_path / "o")
    with pytest.raises(ValueError, match="at least 2"):
        tfc.average([tmp_path / "a"], tmp_path / "o")
    with pytest.raises(ValueError, match="weights"):
        tfc.average([tmp_path / "a", tmp_path / "a"], tmp_path / "o", weights=[1])
    with pytest.raises(ValueError, match="weights"):
        tfc.average([tmp_path / "a", tmp_path / "a"], tmp_path / "o", weights=[1, -1])
    assert not list(tmp_path.glob("o*"))


# -- hostile inputs ---------------------------------------------------------------------------


def _damaged(tmp_path: Path) -> Path:
    """A copy of a TF checkpoint with one byte of one tensor flipped."""
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    d = tmp_path / "damaged"
    d.mkdir()
    for f in Path(src).parent.glob(Path(src).name + ".*"):
        shutil.copy(f, d / f.name)
    data = d / "ckpt.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    with tfc.load_checkpoint(src) as r:
        r.get_tensor("layer_with_weights-2/kernel" + VV)
    raw[len(raw) // 2] ^= 0xFF
    data.write_bytes(bytes(raw))
    return d / "ckpt"


@pytest.mark.parametrize(
    "run",
    [
        lambda s, d: tfc.edit(s, d),
        lambda s, d: tfc.edit(s, d, strip=True, cast="bfloat16"),
        lambda s, d: tfc.reshard(s, d),
        lambda s, d: tfc.merge([s, s], d, on_conflict="first"),
        lambda s, d: tfc.average([s, s], d),
        lambda s, d: tfc.to_safetensors(s, str(d) + ".safetensors", strip=True),
    ],
    ids=["edit", "strip-cast", "reshard", "merge", "average", "convert"],
)
def test_damaged_source_leaves_nothing(tmp_path: Path, run: object) -> None:
    src = _damaged(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(tfc.ChecksumMismatchError) as ei:
        run(src, out / "x")  # type: ignore[operator]
    assert ei.value.key is not None and ei.value.path is not None
    assert files(out) == []


def test_destination_mistakes(tmp_path: Path) -> None:
    tfc.save(tmp_path / "a", {"x": np.ones(1)})
    for dst in (tmp_path / "a", str(tmp_path / "a.index")[: -len(".index")]):
        with pytest.raises(ValueError, match="is the source checkpoint"):
            tfc.edit(tmp_path / "a", dst)
    with pytest.raises(ValueError, match="is the source checkpoint"):
        tfc.average([tmp_path / "a", tmp_path / "a"], tmp_path / "a")
    (tmp_path / "dir").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        tfc.edit(tmp_path / "a", tmp_path / "dir")
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.edit(tmp_path / "missing", tmp_path / "b")
    assert files(tmp_path) == ["a.data-00000-of-00001", "a.index", "dir"]


def test_variant_tensors_are_refused_by_name(tmp_path: Path) -> None:
    src = fixture("iterator_variant/ckpt")
    with tfc.load_checkpoint(src) as r:
        variants = [k for k in r if r.dtype(k) == "variant"]
    if not variants:
        pytest.skip("fixture has no variant tensor")
    with pytest.raises(tfc.UnsupportedCheckpointError, match="exclude="):
        tfc.edit(src, tmp_path / "x")
    assert files(tmp_path) == []


def test_progress_is_called_per_tensor(tmp_path: Path) -> None:
    calls: list[tuple[int, int, str]] = []
    report = tfc.edit(
        fixture("manager/ckpt-3"), tmp_path / "p", progress=lambda *a: calls.append(a)
    )
    assert [c[:2] for c in calls] == [(1, 3), (2, 3), (3, 3)]
    assert [c[2] for c in calls] == report.written


# -- convert filters ---------------------------------------------------------------------------


def test_convert_with_filters(tmp_path: Path) -> None:
    src = fixture("keras3/ckpt")
    rep = tfc.to_safetensors(src, tmp_path / "m.safetensors", strip=True, cast="bfloat16")
    assert len(rep.written) == 8
    assert all(n.startswith("model/") for n in rep.written)
    back = tfc.from_safetensors(tmp_path / "m.safetensors", tmp_path / "back")
    with tfc.load_checkpoint(back) as r:
        assert {r.dtype(k) for k in r if k != GRAPH} == {"bfloat16"}
        # the embedded graph is the stripped one: its keys are the tensors written
        g = r.object_graph
        assert g is not None and set(g.checkpoint_keys()) == set(r) - {GRAPH}
    rep = tfc.to_npz(
        src,
        tmp_path / "m.npz",
        model_paths=True,
        strip=True,
        select="model/_functional/_operations/1",
        rename=[(r"^model/_functional/_operations/1/_?", "dense.")],
    )
    with np.load(tmp_path / "m.npz") as z:
        assert sorted(z.files) == ["dense.bias", "dense.kernel"]


# -- command line ------------------------------------------------------------------------------


def test_cli_subcommands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    d = str(tmp_path)
    assert main(["strip", src, f"{d}/s"]) == 0
    assert "dropped 17" in capsys.readouterr().out
    assert main(["cast", f"{d}/s", f"{d}/c", "float16", "*kernel*"]) == 0
    with tfc.load_checkpoint(f"{d}/c") as r:
        assert r.dtype("layer_with_weights-0/kernel" + VV) == "float16"
        assert r.dtype("layer_with_weights-0/bias" + VV) == "float32"
    assert main(["select", f"{d}/s", f"{d}/sel", "layer_with_weights-0"]) == 0
    assert len(tfc.load(f"{d}/sel")) == 3
    assert main(["rename", f"{d}/s", f"{d}/r", "^layer_with_weights-", "dense_"]) == 0
    assert "dense_2/kernel" + VV in tfc.load(f"{d}/r")
    assert main(["edit", src, f"{d}/e", "--strip", "--cast", "bfloat16", "--name-based"]) == 0
    assert tfc.load(f"{d}/e")["layer_with_weights-0/kernel"].dtype == ml_dtypes.bfloat16
    assert main(["reshard", f"{d}/s", f"{d}/one"]) == 0
    assert main(["merge", f"{d}/s", src, "-o", f"{d}/m", "--on-conflict", "first"]) == 0
    assert main(["average", f"{d}/s", f"{d}/r", "-o", f"{d}/a"]) == 2  # different names
    assert main(["average", f"{d}/s", f"{d}/s", "-o", f"{d}/a", "--weights", "1,2"]) == 0
    assert main(["convert", src, f"{d}/x.safetensors", "--strip", "--model-paths"]) == 0
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["select", "SRC", "OUT", "nope"], 2, "matches no tensor"),
        (["rename", "SRC", "OUT", "(", "x"], 2, "bad regex"),
        (["rename", "SRC", "OUT", "x"], 2, "pairs"),
        (["rename", "SRC", "OUT", "^layer_with_weights-.", "L"], 2, "two objects"),
        (["edit", "SRC", "SRC"], 2, "is the source"),
        (["cast", "SRC", "OUT", "int8"], 2, "invalid choice"),
        (["edit", "SRC", "OUT", "--max-shard-size", "-5"], 2, "size"),
        (["edit", "MISSING", "OUT"], 3, "not found"),
        (["edit", "DAMAGED", "OUT"], 1, "checksum"),
        (["strip", "DAMAGED", "OUT"], 1, "checksum"),
        (["average", "SRC", "OUT2", "-o", "OUT"], 2, "same tensors"),
        (["merge", "SRC", "SRC", "-o", "OUT"], 2, "--on-conflict"),
        (["convert", "SRC", "OUT.npz", "--select", "zzz"], 2, "matches no tensor"),
        (["convert", "DAMAGED", "OUT.npz", "--strip"], 1, "checksum"),
        (["cast", "DAMAGED", "OUT", "bfloat16"], 1, "checksum"),
        (["select", "DAMAGED", "OUT", "layer_with_weights-2"], 1, "checksum"),
        (["rename", "DAMAGED", "OUT", "^layer_with_weights-", "L"], 1, "checksum"),
        (["reshard", "DAMAGED", "OUT", "--max-shard-size", "100"], 1, "checksum"),
        (["merge", "DAMAGED", "SRC", "-o", "OUT", "--on-conflict", "first"], 1, "checksum"),
        (["average", "DAMAGED", "SRC", "-o", "OUT"], 1, "checksum"),
        (["strip", "TRUNCATED", "OUT"], 1, "trunc.index"),
        (["merge", "SRC", "TRUNCATED", "-o", "OUT", "--on-conflict", "last"], 1, "trunc.index"),
        (["reshard", "SRC", "OUT", "--max-shard-size", "3"], 2, "smallest slice"),
        (["average", "SRC", "-o", "OUT"], 2, "at least 2"),
        (["rename", "FLAT", "OUT", "^.$", "z"], 2, "both become 'z'"),
        (["edit", "FLAT", "OUT", "--rename", "^x$", "_CHECKPOINTABLE_OBJECT_GRAPH"], 2, "reserved"),
        (["merge", "FLAT", "FLAT2", "-o", "OUT", "--on-conflict", "last"], 2, "float32[3] in"),
        (["average", "FLAT", "FLAT2", "-o", "OUT"], 2, "float32[3] in"),
        (["edit", "FLAT", "OUT", "--exclude", "*"], 2, "nothing left"),
        (["strip", "FLAT", "OUT", "--keep", "[x"], 2, "matches no tensor"),
    ],
)
def test_cli_hostile(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    status: int,
    message: str,
) -> None:
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    damaged = _damaged(tmp_path)
    tfc.save(tmp_path / "other", {"x": np.ones(1)})
    tfc.save(tmp_path / "flat", {"x": np.ones(2, np.float32), "y": np.ones(3, np.float32)})
    tfc.save(tmp_path / "flat2", {"x": np.ones(2, np.float32), "y": np.ones(4, np.float32)})
    tfc.save(tmp_path / "trunc", {"x": np.ones(1)})
    index = tmp_path / "trunc.index"
    index.write_bytes(index.read_bytes()[:-20])
    out = tmp_path / "out"
    out.mkdir()
    subst = {
        "SRC": src,
        "DAMAGED": str(damaged),
        "MISSING": str(tmp_path / "missing"),
        "OUT": str(out / "o"),
        "OUT2": str(tmp_path / "other"),
        "OUT.npz": str(out / "o.npz"),
        "TRUNCATED": str(tmp_path / "trunc"),
        "FLAT": str(tmp_path / "flat"),
        "FLAT2": str(tmp_path / "flat2"),
    }
    assert main([subst.get(a, a) for a in argv]) == status
    assert message.lower() in capsys.readouterr().err.lower()
    assert files(out) == []
    assert os.path.exists(src + ".index")


class _FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_cli_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tty = _FakeTTY()
    monkeypatch.setattr("sys.stderr", tty)
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    assert main(["strip", src, str(tmp_path / "s")]) == 0
    out = tty.getvalue()
    assert "editing [" in out and "8/8" in out and out.endswith("\r\x1b[K")
    quiet = _FakeTTY()
    monkeypatch.setattr("sys.stderr", quiet)
    assert main(["strip", "-q", src, str(tmp_path / "q")]) == 0
    assert quiet.getvalue() == ""


# -- the real-world corpus ---------------------------------------------------------------------


def _corpus_checkpoints() -> list[str]:
    from .conftest import realworld_dir

    root = realworld_dir()
    if root is None:
        return []
    import json

    expected = json.loads((DATA / "realworld_expected.json").read_text())
    return [str(root / c["prefix"]) for c in expected["checkpoints"] if c.get("data_files_present")]


def test_edits_of_every_real_world_checkpoint(tmp_path: Path) -> None:
    """An edit that changes nothing keeps every tensor bit for bit and the graph as it was;
    strip and cast keep the graph consistent with the bundle (every key a graph names is
    stored, unless the source did not store it either) and every value they keep."""
    prefixes = _corpus_checkpoints()
    if not prefixes:
        pytest.skip("real-world corpus not present")
    for i, prefix in enumerate(prefixes):
        with tfc.load_checkpoint(prefix) as src:
            g0 = src.object_graph
            tfc.edit(src, tmp_path / f"same{i}", fsync=False)
            with tfc.load_checkpoint(tmp_path / f"same{i}") as out:
                assert list(out) == list(src), prefix
                for k in src:
                    a, b = src[k], out[k]
                    assert a.dtype == b.dtype and a.shape == b.shape, (prefix, k)
                    assert (
                        a.tobytes() == b.tobytes()
                        if a.dtype != object
                        else (a.tolist() == b.tolist())
                    ), (prefix, k)
            phantom = set() if g0 is None else set(g0.checkpoint_keys()) - set(src)
            try:
                report = tfc.edit(src, tmp_path / f"s{i}", strip=True, cast="bfloat16", fsync=False)
            except ValueError as e:
                assert "nothing left" in str(e)  # a checkpoint of optimizer state only
                continue
            with tfc.load_checkpoint(tmp_path / f"s{i}") as out:
                g = out.object_graph
                assert (g is None) == (g0 is None), prefix
                if g is not None:
                    assert set(g.checkpoint_keys()) <= set(out) | phantom, prefix
                back = {v: k for k, v in report.renamed.items()}
                for k in out:
                    if k == GRAPH:
                        continue
                    a, b = src[back.get(k, k)], out[k]
                    if k in report.cast:
                        a = a.astype(b.dtype)
                    assert (
                        a.tobytes() == b.tobytes()
                        if a.dtype != object
                        else (a.tolist() == b.tolist())
                    ), (prefix, k)


# -- reshard -----------------------------------------------------------------------------------


def test_reshard_split_and_join_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    tensors: dict[str, Any] = {
        "big": rng.normal(size=(300, 7)).astype(np.float32),
        "ids": np.arange(60, dtype=np.int64).reshape(12, 5),
        "text": np.array([b"abc", b"de" * 50], dtype=object),
        "bf": rng.normal(size=(33,)).astype(ml_dtypes.bfloat16),
        "step": np.int64(4),
    }
    tfc.save(tmp_path / "one", dict(sorted(tensors.items())))  # TF1 Saver's order: sorted
    report = tfc.reshard(tmp_path / "one", tmp_path / "split", 1000)
    assert report.shards == len(list(tmp_path.glob("split.data-*"))) > 3
    got = tfc.load(tmp_path / "split")
    for k, v in tensors.items():
        assert np.array_equal(got[k], v) if v.dtype != object else got[k].tolist() == v.tolist()
    tfc.reshard(tmp_path / "split", tmp_path / "joined")
    for suffix in (".index", ".data-00000-of-00001"):
        assert (tmp_path / f"joined{suffix}").read_bytes() == (
            tmp_path / f"one{suffix}"
        ).read_bytes()
    # every operation takes max_shard_size
    r = tfc.average([tmp_path / "one", tmp_path / "split"], tmp_path / "avg", max_shard_size=500)
    assert r.shards > 3 and np.array_equal(tfc.load(tmp_path / "avg")["big"], tensors["big"])
    r = tfc.edit(tmp_path / "one", tmp_path / "c", cast="float16", max_shard_size=800)
    assert r.shards > 1 and tfc.load(tmp_path / "c")["big"].dtype == np.float16
    calls: list[tuple[int, int, str]] = []
    tfc.reshard(tmp_path / "one", tmp_path / "p", 1000, progress=lambda *a: calls.append(a))
    assert [c[:2] for c in calls] == [(i, 5) for i in range(1, 6)]


def test_reshard_mistakes_leave_nothing(tmp_path: Path) -> None:
    tfc.save(tmp_path / "a", {"w": np.ones((4, 100), np.float32)})
    with pytest.raises(ValueError, match="positive"):
        tfc.reshard(tmp_path / "a", tmp_path / "x", 0)
    with pytest.raises(TypeError, match="int"):
        tfc.reshard(tmp_path / "a", tmp_path / "x", "1GB")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="smallest slice"):
        tfc.reshard(tmp_path / "a", tmp_path / "x", 3)  # not even one float fits
    assert files(tmp_path) == ["a.data-00000-of-00001", "a.index"]
    assert (
        main(["reshard", str(tmp_path / "a"), str(tmp_path / "s"), "--max-shard-size", "1KB"]) == 0
    )
    assert len(list(tmp_path.glob("s.data-*"))) == 2


def test_an_open_reader_is_left_as_it_was(tmp_path: Path) -> None:
    with tfc.load_checkpoint(fixture("manager/ckpt-3")) as r:
        before = r.object_graph
        assert before is not None
        raw = before.proto.SerializeToString()
        tfc.edit(r, tmp_path / "a", rename=[("^v$", "w")])
        tfc.edit(r, tmp_path / "b", strip=True, name_based=True)
        assert r.object_graph is before and before.proto.SerializeToString() == raw
        assert before.find("v").value_key == "v" + VV
    assert "w" + VV in tfc.load(tmp_path / "a") and set(tfc.load(tmp_path / "b")) == {"v"}


def test_edit_into_a_bucket(tmp_path: Path) -> None:
    pytest.importorskip("fsspec")
    src = fixture("keras_tf_keras/legacy_adam/ckpt")
    dst = f"memory://i13s-{tmp_path.name}/serve/model"
    report = tfc.reshard(src, dst, 100)
    assert report.shards > 3
    assert sorted(report.written) == sorted(k for k in tfc.load(src) if k != GRAPH)
    assert tfc.load(dst).keys() == tfc.load(src).keys()
    with pytest.raises(ValueError, match="is the source checkpoint"):
        tfc.edit(dst, dst, strip=True)
