"""SavedModel signatures without TensorFlow: `saved_model_info` and `tfckpt saved-model`.

Oracle: TensorFlow's `saved_model_cli show --all` (live, `-m tf`) on SavedModels TF writes in
the test (Keras 3 export, a tf.Module with several signatures, TF1 SavedModelBuilder) and on
every SavedModel of the real-world corpus; without TF, the SavedModel TF 2.21 wrote into
testdata/ and damaged copies of it.
"""

from __future__ import annotations

import ast
import importlib
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, text_format

import tfckpt_lite as tfc
from tfckpt_lite._cli import main
from tfckpt_lite._proto import meta_graph_pb2, saved_model_pb2
from tfckpt_lite._saved_model import parse_saved_model

from .conftest import budget, realworld_dir

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "testdata" / "savedmodel" / "model"
HELPER = HERE / "_saved_model_cli.py"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _copy(tmp_path: Path) -> Path:
    dst = tmp_path / "sm"
    shutil.copytree(FIXTURE, dst)
    return dst


def _proto(path: Path) -> saved_model_pb2.SavedModel:
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((path / "saved_model.pb").read_bytes())
    return sm


# -- the fixture TF 2.21 wrote, without TensorFlow ---------------------------------------------


def test_fixture_tags_signatures_ops_and_variables() -> None:
    info = tfc.saved_model_info(FIXTURE)
    assert info.path == str(FIXTURE / "saved_model.pb") and info.schema_version == 1
    mg = info.meta_graph("serve")
    assert mg.tags == ("serve",) and mg.tensorflow_version.startswith("2.21")
    assert list(mg.signatures) == ["__saved_model_init_op", "serving_default"]
    sig = mg.signatures["serving_default"]
    assert sig.method_name == "tensorflow/serving/predict"
    x = sig.inputs["x"]
    assert (x.name, x.dtype, x.shape, x.encoding) == (
        "serving_default_x:0",
        "float32",
        (3,),
        "name",
    )
    init = mg.signatures["__saved_model_init_op"].outputs["__saved_model_init_op"]
    assert (init.dtype, init.dtype_enum, init.shape, init.name) == ("invalid", 0, None, "NoOp")
    assert {"StatefulPartitionedCall", "VarHandleOp", "SaveV2"} <= mg.ops
    assert not any(op.startswith("__inference") for op in mg.ops)  # functions are followed into
    assert [(v.name, v.dtype, v.shape) for v in info.variables] == [
        ("count", "int64", ()),
        ("w", "float32", (3,)),
    ]
    assert info.variables[1].key == "w/.ATTRIBUTES/VARIABLE_VALUE"
    with pytest.raises(KeyError, match="no MetaGraph has the tag-set 'train'; it has 'serve'"):
        info.meta_graph("train")
    assert tfc.saved_model_info(FIXTURE / "saved_model.pb") == info  # the .pb itself works too


def test_cli_prints_show_all_and_variables(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "saved-model", str(FIXTURE))
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == [
        "",
        "MetaGraphDef with tag-set: 'serve' contains the following SignatureDefs:",
        "",
    ]
    i = lines.index("signature_def['serving_default']:")
    assert lines[i + 1 : i + 12] == [
        "  The given SavedModel SignatureDef contains the following input(s):",
        "    inputs['x'] tensor_info:",
        "        dtype: DT_FLOAT",
        "        shape: (3)",
        "        name: serving_default_x:0",
        "  The given SavedModel SignatureDef contains the following output(s):",
        "    outputs['output_0'] tensor_info:",
        "        dtype: DT_FLOAT",
        "        shape: (3)",
        "        name: StatefulPartitionedCall:0",
        "  Method name is: tensorflow/serving/predict",
    ]
    assert lines[-3:] == [
        "Variables: 2 tensors, 20 B",
        "  count  int64    []          8 B",
        "  w      float32  [3]        12 B",
    ]
    code, out, _ = run(capsys, "saved-model", str(FIXTURE), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["saved_model_schema_version"] == 1
    sig = doc["meta_graphs"][0]["signatures"]["serving_default"]
    assert sig["inputs"]["x"] == {
        "name": "serving_default_x:0",
        "dtype": "float32",
        "shape": [3],
        "encoding": "name",
    }
    assert doc["variables"][1]["key"] == "w/.ATTRIBUTES/VARIABLE_VALUE"


def test_one_tag_set_or_one_signature(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "saved-model", str(FIXTURE), "--signature-def", "serving_default")
    assert code == 0
    assert out.splitlines() == [
        "The given SavedModel SignatureDef contains the following input(s):",
        "  inputs['x'] tensor_info:",
        "      dtype: DT_FLOAT",
        "      shape: (3)",
        "      name: serving_default_x:0",
        "The given SavedModel SignatureDef contains the following output(s):",
        "  outputs['output_0'] tensor_info:",
        "      dtype: DT_FLOAT",
        "      shape: (3)",
        "      name: StatefulPartitionedCall:0",
        "Method name is: tensorflow/serving/predict",
    ]
    code, out, _ = run(capsys, "saved-model", str(FIXTURE), "--tag-set", "serve", "--json")
    assert code == 0 and json.loads(out)["tags"] == ["serve"]
    code, out, _ = run(
        capsys, "saved-model", str(FIXTURE), "--signature-def", "serving_default", "--json"
    )
    assert json.loads(out)["outputs"]["output_0"]["name"] == "StatefulPartitionedCall:0"
    code, _, err = run(capsys, "saved-model", str(FIXTURE), "--signature-def", "serving_defualt")
    assert code == 3 and "did you mean 'serving_default'?" in err
    code, _, err = run(capsys, "saved-model", str(FIXTURE), "--tag-set", "train")
    assert code == 3 and "no MetaGraph has the tag-set 'train'; it has 'serve'" in err


def test_text_format_and_no_variables(tmp_path: Path) -> None:
    d = tmp_path / "txt"
    d.mkdir()
    (d / "saved_model.pbtxt").write_text(text_format.MessageToString(_proto(FIXTURE)))
    info = tfc.saved_model_info(d)
    want = tfc.saved_model_info(FIXTURE)
    assert info.meta_graphs == want.meta_graphs and info.lines() == want.lines()
    assert info.variables == ()  # no variables/ directory: a SavedModel without variables
    (d / "saved_model.pbtxt").write_text("meta_graphs { oops")
    with pytest.raises(tfc.CorruptCheckpointError, match=r"saved_model\.pbtxt"):
        tfc.saved_model_info(d)


# -- damage, hostile content, wrong paths ------------------------------------------------------


def _expect_corrupt(d: Path, match: str) -> None:
    with pytest.raises(tfc.CorruptCheckpointError, match=match) as info:
        tfc.saved_model_info(d)
    assert info.value.path == str(d / "saved_model.pb")


def test_damaged_saved_model_pb_names_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = _copy(tmp_path)
    pb = d / "saved_model.pb"
    good = pb.read_bytes()
    for cut in (1, 10, len(good) // 2, len(good) - 1):
        pb.write_bytes(good[:cut])
        _expect_corrupt(d, "not a valid SavedModel|holds no MetaGraphDef")
    pb.write_bytes(b"")
    _expect_corrupt(d, "holds no MetaGraphDef")
    pb.write_bytes(b"\xff" * 64)
    _expect_corrupt(d, "not a valid SavedModel")
    code, _, err = run(capsys, "saved-model", str(d))
    assert code == 1 and str(pb) in err


def test_every_single_byte_flip_is_a_result_or_a_corrupt_error() -> None:
    """One bit flipped in each of the fixture's first 2 KiB (then every 97th byte): either a
    SavedModel comes out, or CorruptCheckpointError naming the file; nothing else, ever."""
    good = (FIXTURE / "saved_model.pb").read_bytes()
    positions = [*range(min(len(good), 2048)), *range(2048, len(good), 97)]
    positions = positions[:: budget(1, 8)]  # every eighth in the quick default run
    outcomes = {"ok": 0, "corrupt": 0}
    for pos in positions:
        raw = bytearray(good)
        raw[pos] ^= 1 << (pos % 8)
        try:
            parse_saved_model(bytes(raw), "sm/saved_model.pb")
            outcomes["ok"] += 1
        except tfc.CorruptCheckpointError as e:
            assert e.path == "sm/saved_model.pb"
            outcomes["corrupt"] += 1
    assert outcomes["corrupt"] > 0 and outcomes["ok"] > 0


def _with_tensor_info(d: Path, edit: Any) -> None:
    sm = _proto(FIXTURE)
    edit(sm.meta_graphs[0].signature_def["serving_default"].inputs["x"])
    (d / "saved_model.pb").write_bytes(sm.SerializeToString())


def test_invalid_tensor_infos(tmp_path: Path) -> None:
    d = _copy(tmp_path)

    def dtype(t: Any) -> None:
        t.dtype = 99

    def dim(t: Any) -> None:
        t.tensor_shape.dim.add().size = -7

    def rank(t: Any) -> None:
        t.tensor_shape.unknown_rank = True

    def deep_component(t: Any) -> None:
        inner = t.composite_tensor.components.add().composite_tensor.components.add()
        inner.dtype = 1000

    for edit, match in [
        (dtype, "input 'x' has an unknown dtype enum 99"),
        (dim, "input 'x' has a dimension of size -7"),
        (rank, "input 'x' has an unknown rank and dimensions"),
        (deep_component, r"components\[0\]\.components\[0\] has an unknown dtype enum 1000"),
    ]:
        _with_tensor_info(d, edit)
        _expect_corrupt(d, match)


def test_nesting_too_deep_is_corrupt_not_a_crash(tmp_path: Path) -> None:
    """10,000 nested composite tensors (40 KB): protobuf's nesting limit, reported as damage."""
    d = _copy(tmp_path)
    inner = b""
    for _ in range(10_000):  # TensorInfo.composite_tensor (5) { components (2) { ... } }
        comp = b"\x12" + _varint(len(inner)) + inner
        inner = b"\x2a" + _varint(len(comp)) + comp
    sig = b"\x0a" + _varint(len(inner) + 3) + b"\x0a\x01x" + b"\x12" + _varint(len(inner)) + inner
    entry = b"\x0a\x01s\x12" + _varint(len(sig)) + sig  # signature_def map entry "s"
    mg = b"\x0a\x07\x22\x05serve" + b"\x2a" + _varint(len(entry)) + entry
    (d / "saved_model.pb").write_bytes(b"\x12" + _varint(len(mg)) + mg)
    _expect_corrupt(d, "not a valid SavedModel")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def test_wrong_paths(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(tfc.CheckpointNotFoundError, match=r"no saved_model\.pb"):
        tfc.saved_model_info(empty)
    with pytest.raises(tfc.CheckpointNotFoundError, match="no such SavedModel"):
        tfc.saved_model_info(tmp_path / "missing")
    other = tmp_path / "model.index"
    other.write_bytes(b"x")
    with pytest.raises(tfc.CheckpointNotFoundError, match="not a SavedModel directory"):
        tfc.saved_model_info(other)
    code, _, err = run(capsys, "saved-model", str(empty))
    assert code == 3 and "no saved_model.pb" in err
    d = _copy(tmp_path)
    (d / "variables" / "variables.index").write_bytes(b"\x00" * 64)  # damaged variables
    with pytest.raises(tfc.CorruptCheckpointError, match="variables"):
        tfc.saved_model_info(d)


# -- against TensorFlow ------------------------------------------------------------------------


def _tf_show_all(dirs: list[str], *extra: str) -> dict[str, dict[str, str]]:
    proc = subprocess.run(
        [sys.executable, str(HELPER), *extra, *dirs],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    result: dict[str, dict[str, str]] = json.loads(proc.stdout)
    return result


def _ops(line: str) -> tuple[str, set[str]]:
    head, _, ops = line.partition(" contains the following ops: ")
    return head, set() if ops == "set()" else set(ast.literal_eval(ops))


def _assert_same_as_tf(ours: list[str], theirs: str) -> None:
    """Line for line; the op sets (printed in Python's set order by TF) as sets."""
    tf_lines = theirs.split("\nConcrete Functions:")[0].splitlines()
    assert len(ours) == len(tf_lines), (ours, tf_lines)
    for a, b in zip(ours, tf_lines):
        if a.startswith("The MetaGraph with tag set "):
            assert _ops(a) == _ops(b)
        else:
            assert a == b


@pytest.mark.tf
def test_same_as_saved_model_cli_on_savedmodels_tf_writes(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow")
    shown = _tf_show_all([], "--write", str(tmp_path), "--functions")
    assert len(shown) == 3
    signatures = 0
    for d, result in shown.items():
        assert "out" in result, result
        assert "\nConcrete Functions:" in result["out"] or d.endswith("tf1")
        info = tfc.saved_model_info(d)
        _assert_same_as_tf(info.lines(), result["out"])
        for name, text in result.items():
            if "|" in name:  # show --tag_set T --signature_def K
                tags, key = name.split("|")
                assert info.meta_graph(tags).signatures[key].lines() == text.splitlines()
                signatures += 1
    assert signatures == 3 + 4 + 3  # keras3: serve, serving_default, init; module: 4; tf1: 3

    keras3 = tfc.saved_model_info(tmp_path / "keras3").meta_graph("serve")
    inp = keras3.signatures["serving_default"].inputs["features"]
    assert (inp.dtype, inp.shape) == ("float32", (-1, 3))
    assert {"serve", "serving_default"} <= set(keras3.signatures)

    module = tfc.saved_model_info(tmp_path / "module")
    sigs = module.meta_graph("serve").signatures
    assert set(sigs) == {"__saved_model_init_op", "serving_default", "lookup", "composite"}
    assert sigs["lookup"].inputs["ids"].shape is None  # TensorSpec(None): unknown rank
    assert sigs["lookup"].inputs["key"].dtype == "string"
    assert {t.encoding for t in sigs["composite"].inputs.values()} == {"name"}  # flattened
    assert {v.name for v in module.variables} >= {"w", "b", "table"}

    tf1 = tfc.saved_model_info(tmp_path / "tf1")
    assert [mg.tags for mg in tf1.meta_graphs] == [("serve",), ("train", "gpu")]
    assert tf1.meta_graph("gpu,train").signatures["train"].inputs["x"].shape == (-1, 2)
    sparse = tf1.meta_graph(("serve",)).signatures["sparse"].inputs["sp"]
    assert (sparse.encoding, sparse.name, sparse.dtype) == ("coo_sparse", "", "int64")
    assert [(v.name, v.shape) for v in tf1.variables] == [("w", (2, 1))]


@pytest.mark.tf
def test_same_as_saved_model_cli_on_real_world_savedmodels() -> None:
    pytest.importorskip("tensorflow")
    corpus = realworld_dir()
    if corpus is None:
        pytest.skip("the real-world checkpoint corpus is not here")
    dirs = sorted(str(p.parent) for p in corpus.rglob("saved_model.pb*"))
    if not dirs:
        pytest.skip("no SavedModel in the real-world corpus")
    compared = 0
    for d, result in _tf_show_all(dirs).items():
        if "error" in result:  # TF cannot read it: neither may we claim to
            with pytest.raises(tfc.CheckpointError):
                tfc.saved_model_info(d)
            continue
        _assert_same_as_tf(tfc.saved_model_info(d).lines(), result["out"])
        compared += 1
    print(f"{compared} of {len(dirs)} real-world SavedModels shown exactly as saved_model_cli")
    assert compared == len(dirs)


_TRIMMED = {
    "saved_model": (saved_model_pb2, "tensorflow.core.protobuf.saved_model_pb2"),
    "meta_graph": (meta_graph_pb2, "tensorflow.core.protobuf.meta_graph_pb2"),
    "graph": ("graph_pb2", "tensorflow.core.framework.graph_pb2"),
    "node_def": ("node_def_pb2", "tensorflow.core.framework.node_def_pb2"),
    "attr_value": ("attr_value_pb2", "tensorflow.core.framework.attr_value_pb2"),
    "function": ("function_pb2", "tensorflow.core.framework.function_pb2"),
    "op_def": ("op_def_pb2", "tensorflow.core.framework.op_def_pb2"),
}


def _fields(module: ModuleType) -> dict[str, tuple[int, int, int, str, str]]:
    fdp = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(fdp)
    out: dict[str, tuple[int, int, int, str, str]] = {}
    stack = [(m, m.name) for m in fdp.message_type]
    while stack:
        msg, path = stack.pop()
        oneofs = [o.name for o in msg.oneof_decl]
        for f in msg.field:
            oneof = oneofs[f.oneof_index] if f.HasField("oneof_index") else ""
            type_name = f.type_name.replace(".tfckpt_lite.proto.", ".").replace(".tensorflow.", ".")
            out[f"{path}.{f.name}"] = (f.number, f.type, f.label, type_name, oneof)
        stack += [(n, f"{path}.{n.name}") for n in msg.nested_type]
    return out


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(_TRIMMED))
def test_trimmed_protos_declare_tensorflows_fields(name: str) -> None:
    """Every field we declare is TensorFlow's: same number, type, label, message and oneof."""
    pytest.importorskip("tensorflow")
    ours, theirs = _TRIMMED[name]
    mod = (
        ours
        if isinstance(ours, ModuleType)
        else importlib.import_module(f"tfckpt_lite._proto.{ours}")
    )
    mine, tf = _fields(mod), _fields(importlib.import_module(theirs))
    assert mine, name
    assert {k: v for k, v in mine.items() if tf.get(k) != v} == {}
    assert mod.DESCRIPTOR.package == "tfckpt_lite.proto"
