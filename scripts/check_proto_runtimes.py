#!/usr/bin/env python3
"""Check that the committed gencode works under several protobuf Python runtimes.

For each (interpreter, protobuf requirement) pair this makes a throwaway venv in a temp
dir, installs numpy and that protobuf, and runs CHECK (imports every module, golden bytes,
round trips) with PYTHONPATH=src under both the upb and the pure-Python implementation,
with all warnings turned into errors. Results feed proto/README.md.

Usage: python scripts/check_proto_runtimes.py [PYTHON:REQUIREMENT ...]
default: python3.11 with protobuf 4.21.6, 4.25.*, 5.29.*, 6.*, 7.*.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT = [
    "python3.11:protobuf==4.21.6",
    "python3.11:protobuf==4.25.*",
    "python3.11:protobuf==5.29.*",
    "python3.11:protobuf==6.*",
    "python3.11:protobuf==7.*",
]

CHECK = r"""
import sys, warnings
warnings.simplefilter("error")
import google.protobuf
from google.protobuf import text_format
from google.protobuf.internal import api_implementation
import numpy
from tfckpt_lite._proto import (
    checkpoint_state_pb2, resource_handle_pb2, saved_tensor_slice_pb2, tensor_bundle_pb2,
    tensor_pb2, tensor_shape_pb2, tensor_slice_pb2, trackable_object_graph_pb2, types_pb2,
    versions_pb2, saved_model_pb2, meta_graph_pb2, graph_pb2, node_def_pb2, attr_value_pb2,
    function_pb2, op_def_pb2,
)
E = tensor_bundle_pb2.BundleEntryProto
e = E(dtype=types_pb2.DT_FLOAT, size=24, crc32c=0x173DDBC0)
e.shape.dim.add(size=2)
e.shape.dim.add(size=3)
b = e.SerializeToString()
assert b == bytes.fromhex("08 01 12 08 12 02 08 02 12 02 08 03 28 18 35 c0 db 3d 17"), b.hex()
assert E.FromString(b) == e and E.FromString(b).SerializeToString() == b
h = tensor_bundle_pb2.BundleHeaderProto(num_shards=1)
h.version.producer = 1
assert h.SerializeToString() == bytes.fromhex("08 01 1a 02 08 01")
assert types_pb2.DataType.Value("DT_FLOAT4_E2M1FN_REF") == 133
g = trackable_object_graph_pb2.TrackableObjectGraph()
n = g.nodes.add()
n.has_checkpoint_values.value = True
n.children.add(node_id=1, local_name="x")
assert type(g).FromString(g.SerializeToString()) == g
x = tensor_slice_pb2.TensorSliceProto.Extent()
assert not x.HasField("length")
x.length = 0
assert x.WhichOneof("has_length_hack") == "length"
t = tensor_pb2.TensorProto(dtype=types_pb2.DT_VARIANT, float8_val=b"\x01")
t.variant_val.add(type_name="t").tensors.add(int_val=[1, 2])
assert type(t).FromString(t.SerializeToString()) == t
s = saved_tensor_slice_pb2.SavedTensorSlices()
s.meta.versions.producer = 1
s.meta.tensor.add(name="a", type=types_pb2.DT_INT32).slice.add().extent.add()
assert type(s).FromString(s.SerializeToString()) == s
cs = text_format.Parse('model_checkpoint_path: "c"\nall_model_checkpoint_timestamps: 1.5\n',
                       checkpoint_state_pb2.CheckpointState())
assert cs.all_model_checkpoint_timestamps[0] == 1.5
r = resource_handle_pb2.ResourceHandleProto(name="v")
r.dtypes_and_shapes.add(dtype=1).shape.dim.add(size=1)
assert type(r).FromString(r.SerializeToString()) == r
assert tensor_shape_pb2.TensorShapeProto().SerializeToString() == b""
assert versions_pb2.VersionDef(producer=1).SerializeToString() == b"\x08\x01"
sm = saved_model_pb2.SavedModel(saved_model_schema_version=1)
mg = sm.meta_graphs.add()
mg.meta_info_def.tags.append("serve")
ti = mg.signature_def["serving_default"].inputs["x"]
ti.name, ti.dtype = "x:0", types_pb2.DT_FLOAT
ti.tensor_shape.dim.add(size=-1)
n = mg.graph_def.node.add(name="c", op="StatefulPartitionedCall")
n.attr["f"].func.name = "f"
mg.graph_def.library.function.add().signature.name = "f"
assert type(sm).FromString(sm.SerializeToString()) == sm
assert text_format.Parse(text_format.MessageToString(sm), saved_model_pb2.SavedModel()) == sm
print(f"python {sys.version.split()[0]}, protobuf {google.protobuf.__version__}, "
      f"{api_implementation.Type()}, numpy {numpy.__version__}")
"""


def run_one(python: str, req: str, tmp: Path) -> list[tuple[str, bool, str]]:
    venv = tmp / f"v{abs(hash((python, req)))}"
    subprocess.run([python, "-m", "venv", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    subprocess.run(
        [
            str(vpy),
            "-m",
            "pip",
            "install",
            "-q",
            "--disable-pip-version-check",
            "numpy",
            "crc32c",
            "ml_dtypes",
            req,
        ],
        check=True,
    )
    results = []
    for impl in ("upb", "python"):
        env = dict(
            os.environ,
            PYTHONPATH=str(REPO / "src"),
            PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION=impl,
        )
        res = subprocess.run(
            [str(vpy), "-c", CHECK], env=env, capture_output=True, text=True, check=False
        )
        text = res.stdout.strip() if res.returncode == 0 else res.stderr.strip()[-800:]
        results.append((impl, res.returncode == 0, text))
    return results


def main(argv: list[str]) -> int:
    specs = argv or DEFAULT
    failed = False
    with tempfile.TemporaryDirectory(prefix="tfckpt-pb-runtimes-") as tmp:
        for spec in specs:
            python, req = spec.split(":", 1)
            for impl, ok, text in run_one(python, req, Path(tmp)):
                failed |= not ok
                print(f"{'PASS' if ok else 'FAIL'}  {python:10} {req:18} {impl:6}  {text}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
