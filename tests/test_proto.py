"""Tests of the protobuf layer (src/tfckpt_lite/_proto, generated from proto/).

* golden wire bytes of the messages the bundle writer emits;
* ``tf``: our descriptors against TensorFlow's own, message by message;
* ``slow``: the committed gencode matches what scripts/gen_protos.py produces.
"""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from google.protobuf import descriptor_pb2, text_format

from tfckpt_lite._proto import (
    checkpoint_state_pb2,
    resource_handle_pb2,
    saved_tensor_slice_pb2,
    tensor_bundle_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    tensor_slice_pb2,
    trackable_object_graph_pb2,
    types_pb2,
    versions_pb2,
)

REPO = Path(__file__).resolve().parent.parent
OUR_PACKAGE = "tfckpt_lite.proto"
TF_PACKAGE = "tensorflow"

# Our module -> TensorFlow's module holding the same messages.
MIRRORS: dict[str, tuple[ModuleType, str]] = {
    "types": (types_pb2, "tensorflow.core.framework.types_pb2"),
    "tensor_shape": (tensor_shape_pb2, "tensorflow.core.framework.tensor_shape_pb2"),
    "tensor_slice": (tensor_slice_pb2, "tensorflow.core.framework.tensor_slice_pb2"),
    "versions": (versions_pb2, "tensorflow.core.framework.versions_pb2"),
    "tensor_bundle": (tensor_bundle_pb2, "tensorflow.core.protobuf.tensor_bundle_pb2"),
    "resource_handle": (resource_handle_pb2, "tensorflow.core.framework.resource_handle_pb2"),
    "tensor": (tensor_pb2, "tensorflow.core.framework.tensor_pb2"),
    "trackable_object_graph": (
        trackable_object_graph_pb2,
        "tensorflow.core.protobuf.trackable_object_graph_pb2",
    ),
    "saved_tensor_slice": (saved_tensor_slice_pb2, "tensorflow.core.util.saved_tensor_slice_pb2"),
    "checkpoint_state": (checkpoint_state_pb2, "tensorflow.python.training.checkpoint_state_pb2"),
}

# Items of TensorFlow's descriptors we leave out on purpose, as keys of the flattened
# description below (e.g. "TensorProto.some_field"). Nothing is left out at present.
INTENTIONALLY_OMITTED: frozenset[str] = frozenset()

# Top-level messages/enums of the mirrored TF files that we do not define. None at present.
INTENTIONALLY_UNDEFINED: frozenset[str] = frozenset()


# --------------------------------------------------------------------------------------
# (a) golden bytes


def _entry_2x3() -> tensor_bundle_pb2.BundleEntryProto:
    entry = tensor_bundle_pb2.BundleEntryProto(dtype=types_pb2.DT_FLOAT, size=24, crc32c=0x173DDBC0)
    entry.shape.dim.add(size=2)
    entry.shape.dim.add(size=3)
    return entry


def test_bundle_entry_golden_bytes() -> None:
    data = _entry_2x3().SerializeToString()
    assert data == bytes.fromhex("08 01 12 08 12 02 08 02 12 02 08 03 28 18 35 c0 db 3d 17")


def test_bundle_entry_round_trip() -> None:
    entry = _entry_2x3()
    data = entry.SerializeToString()
    back = tensor_bundle_pb2.BundleEntryProto.FromString(data)
    assert back == entry
    assert back.dtype == types_pb2.DT_FLOAT
    assert [d.size for d in back.shape.dim] == [2, 3]
    assert back.offset == 0
    assert back.size == 24
    assert back.crc32c == 0x173DDBC0
    assert back.SerializeToString() == data


def test_bundle_entry_scalar_shape_is_present() -> None:
    # TF 2.21 example (FORMAT.md 4.8): int32 scalar at offset 32, size 4.
    entry = tensor_bundle_pb2.BundleEntryProto(
        dtype=types_pb2.DT_INT32, offset=32, size=4, crc32c=0x01020304
    )
    entry.shape.SetInParent()
    assert entry.SerializeToString() == bytes.fromhex("08 03 12 00 20 20 28 04 35 04 03 02 01")


def test_bundle_header_golden_bytes() -> None:
    header = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
    header.version.producer = 1
    data = header.SerializeToString()
    assert data == bytes.fromhex("08 01 1a 02 08 01")
    back = tensor_bundle_pb2.BundleHeaderProto.FromString(data)
    assert back.endianness == tensor_bundle_pb2.BundleHeaderProto.LITTLE
    assert back.version.producer == 1
    big = tensor_bundle_pb2.BundleHeaderProto(
        num_shards=1, endianness=tensor_bundle_pb2.BundleHeaderProto.BIG
    )
    big.version.producer = 1
    assert big.SerializeToString() == bytes.fromhex("08 01 10 01 1a 02 08 01")


def test_slice_extent_presence() -> None:
    full = tensor_slice_pb2.TensorSliceProto.Extent()
    part = tensor_slice_pb2.TensorSliceProto.Extent(start=0, length=0)
    assert not full.HasField("length")
    assert part.HasField("length")
    assert part.SerializeToString() == bytes.fromhex("10 00")
    sl = tensor_slice_pb2.TensorSliceProto()
    sl.extent.add()
    sl.extent.add(start=1, length=2)
    assert sl.SerializeToString() == bytes.fromhex("0a 00 0a 04 08 01 10 02")


def test_checkpoint_state_text_format() -> None:
    text = (
        'model_checkpoint_path: "ckpt-3"\n'
        'all_model_checkpoint_paths: "ckpt-2"\n'
        'all_model_checkpoint_paths: "ckpt-3"\n'
        "all_model_checkpoint_timestamps: 1.5\n"
        "all_model_checkpoint_timestamps: 2.25\n"
        "last_preserved_timestamp: 0.5\n"
    )
    state = text_format.Parse(text, checkpoint_state_pb2.CheckpointState())
    assert list(state.all_model_checkpoint_paths) == ["ckpt-2", "ckpt-3"]
    assert list(state.all_model_checkpoint_timestamps) == [1.5, 2.25]
    assert text_format.MessageToString(state) == text


def test_data_type_values() -> None:
    enum = types_pb2.DataType
    assert enum.Value("DT_FLOAT4_E2M1FN") == 33
    names = [enum.Name(n) for n in range(34)]
    assert all(enum.Value(f"{name}_REF") == enum.Value(name) + 100 for name in names[1:])
    assert len(enum.keys()) == 34 + 33


def test_own_package_and_file_names() -> None:
    for module, _ in MIRRORS.values():
        fd = module.DESCRIPTOR
        assert fd.package == OUR_PACKAGE
        assert fd.name.startswith("tfckpt_lite/_proto/")


# --------------------------------------------------------------------------------------
# (b) descriptors against TensorFlow's


def _norm_type_name(name: str) -> str:
    for pkg in (OUR_PACKAGE, TF_PACKAGE):
        if name.startswith(f".{pkg}."):
            return "." + name[len(pkg) + 2 :]
    return name


def _norm_file_name(name: str) -> str:
    if name.startswith("google/protobuf/"):
        return name
    return name.rsplit("/", 1)[-1]


def _flatten_enum(enum: descriptor_pb2.EnumDescriptorProto, path: str, out: dict[str, str]) -> None:
    out[path] = "enum"
    for value in enum.value:
        out[f"{path}.{value.name}"] = f"= {value.number}"
    for rng in enum.reserved_range:
        out[f"{path} reserved {rng.start}..{rng.end}"] = "reserved"
    for rname in enum.reserved_name:
        out[f"{path} reserved {rname!r}"] = "reserved"


def _flatten_message(msg: descriptor_pb2.DescriptorProto, path: str, out: dict[str, str]) -> None:
    out[path] = "message"
    oneofs = [o.name for o in msg.oneof_decl]
    for oneof in oneofs:
        out[f"{path} oneof {oneof}"] = "oneof"
    for field in msg.field:
        oneof = oneofs[field.oneof_index] if field.HasField("oneof_index") else "-"
        packed = str(field.options.packed) if field.options.HasField("packed") else "default"
        out[f"{path}.{field.name}"] = (
            f"number={field.number}"
            f" type={descriptor_pb2.FieldDescriptorProto.Type.Name(field.type)}"
            f" label={descriptor_pb2.FieldDescriptorProto.Label.Name(field.label)}"
            f" type_name={_norm_type_name(field.type_name) or '-'}"
            f" oneof={oneof} packed={packed} proto3_optional={field.proto3_optional}"
        )
    for rng in msg.reserved_range:
        out[f"{path} reserved {rng.start}..{rng.end - 1}"] = "reserved"
    for rname in msg.reserved_name:
        out[f"{path} reserved {rname!r}"] = "reserved"
    for nested in msg.nested_type:
        _flatten_message(nested, f"{path}.{nested.name}", out)
    for enum in msg.enum_type:
        _flatten_enum(enum, f"{path}.{enum.name}", out)


def _flatten_file(module: ModuleType) -> tuple[descriptor_pb2.FileDescriptorProto, dict[str, str]]:
    fdp = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(fdp)
    flat: dict[str, str] = {}
    for msg in fdp.message_type:
        _flatten_message(msg, msg.name, flat)
    for enum in fdp.enum_type:
        _flatten_enum(enum, enum.name, flat)
    return fdp, flat


def _top(key: str) -> str:
    return key.split(" ", 1)[0].split(".", 1)[0]


@pytest.mark.tf
@pytest.mark.parametrize("name", sorted(MIRRORS))
def test_descriptors_match_tensorflow(name: str) -> None:
    pytest.importorskip("tensorflow")
    ours_mod, tf_mod_name = MIRRORS[name]
    tf_mod = importlib.import_module(tf_mod_name)

    ours_fdp, ours = _flatten_file(ours_mod)
    tf_fdp, theirs = _flatten_file(tf_mod)
    assert tf_fdp.package == TF_PACKAGE
    assert ours_fdp.syntax == tf_fdp.syntax == "proto3"

    problems: list[str] = []
    our_tops = {_top(k) for k in ours}
    tf_tops = {_top(k) for k in theirs}
    problems += [f"we define {t}, TensorFlow's file does not" for t in sorted(our_tops - tf_tops)]
    problems += [
        f"TensorFlow defines {t}, we do not (add it or list it in INTENTIONALLY_UNDEFINED)"
        for t in sorted(tf_tops - our_tops - INTENTIONALLY_UNDEFINED)
    ]
    for key in sorted(set(ours) | set(theirs)):
        if _top(key) not in our_tops:
            continue
        mine, tfs = ours.get(key), theirs.get(key)
        if mine == tfs:
            continue
        if mine is None:
            if key not in INTENTIONALLY_OMITTED:
                problems.append(f"missing in ours: {key} {tfs}")
        elif tfs is None:
            problems.append(f"not in TensorFlow's: {key} {mine}")
        else:
            problems.append(f"differs: {key}\n    ours: {mine}\n    TF:   {tfs}")

    our_deps = sorted(_norm_file_name(d) for d in ours_fdp.dependency)
    tf_deps = sorted(_norm_file_name(d) for d in tf_fdp.dependency)
    if our_deps != tf_deps:
        problems.append(f"imports differ: ours {our_deps}, TF {tf_deps}")

    assert not problems, f"{name}.proto vs {tf_mod_name}:\n" + "\n".join(problems)


@pytest.mark.tf
def test_wire_compatible_with_tensorflow() -> None:
    pytest.importorskip("tensorflow")
    tf_bundle = importlib.import_module("tensorflow.core.protobuf.tensor_bundle_pb2")
    tf_entry = tf_bundle.BundleEntryProto(dtype=1, size=24, crc32c=0x173DDBC0)
    tf_entry.shape.dim.add(size=2)
    tf_entry.shape.dim.add(size=3)
    assert tf_entry.SerializeToString() == _entry_2x3().SerializeToString()


@pytest.mark.tf
def test_import_after_tensorflow_in_one_process() -> None:
    pytest.importorskip("tensorflow")
    code = (
        "import sys\n"
        "import tensorflow\n"
        f"sys.path.insert(0, {str(REPO / 'src')!r})\n"
        "import tfckpt_lite._proto.trackable_object_graph_pb2\n"
        "import tfckpt_lite._proto.tensor_bundle_pb2\n"
        "import tfckpt_lite._proto.saved_tensor_slice_pb2\n"
        "import tfckpt_lite._proto.checkpoint_state_pb2\n"
        "print('co-import ok')\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert res.returncode == 0, res.stderr[-4000:]
    assert "co-import ok" in res.stdout


# --------------------------------------------------------------------------------------
# (c) committed gencode is what the pinned generator makes


@pytest.mark.slow
def test_gencode_up_to_date() -> None:
    res = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "gen_protos.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=REPO,
    )
    output = res.stdout + res.stderr
    # Exit code 3: the generator venv does not exist yet and pip can reach no package
    # index. Any other failure (install error, diff) fails the test.
    if res.returncode == 3:
        reason = "pinned generator not installed and pip cannot reach the package index"
        print(f"{reason}:\n{output[-2000:]}")
        pytest.skip(reason)
    assert res.returncode == 0, output[-8000:]
