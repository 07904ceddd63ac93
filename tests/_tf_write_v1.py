"""Run under TensorFlow, in a subprocess of tests/test_tf_v1.py: write V1 checkpoints with
`tf.compat.v1.train.Saver(write_version=SaverDef.V1)` and record what TF's own reader gives.

    python _tf_write_v1.py OUT_DIR SEED

writes `OUT_DIR/single/model.ckpt` (one file) and `OUT_DIR/sharded/model.ckpt-0000{0,1}-of-00002`
(`sharded=True`, variables spread over two CPU devices), then prints JSON:
`{"checkpoints": {prefix: {key: {"dtype", "shape", "digest"}}}, "latest": {sub: prefix},
"devices": [...]}` where the
digest (tests/canonical.py) is of the value the RestoreV2 kernel returns (the kernel
`Saver.restore` runs; it reads every V1 dtype and assembles partitioned tensors, which the
Python CheckpointReader refuses), and keys/shapes/dtypes come from `tf.train.list_variables`
and the reader's dtype map.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import tensorflow as tf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.canonical import canonical_digest

v1 = tf.compat.v1

# Every dtype TF 2.21's V1 writer accepts (bfloat16, uint32, uint64 are refused).
DTYPES = [
    "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "bool",
    "complex64", "complex128", "float16", "string", "qint8", "quint8", "qint32",
]  # fmt: skip
_QUANT = {"qint8": np.int8, "quint8": np.uint8, "qint32": np.int32}


def values(name: str, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray[Any, Any]:
    n = int(np.prod(shape, dtype=np.int64))
    if name == "string":
        out = np.empty(n, object)
        out[:] = [
            bytes(rng.integers(0, 256, int(rng.integers(0, 40))).astype(np.uint8)) for _ in range(n)
        ]
        return out.reshape(shape)
    if name == "bool":
        return rng.integers(0, 2, n).astype(bool).reshape(shape)
    np_dtype = np.dtype(_QUANT.get(name, tf.as_dtype(name).as_numpy_dtype))
    raw = rng.integers(0, 256, n * np_dtype.itemsize).astype(np.uint8).tobytes()
    arr = np.frombuffer(raw, np_dtype).copy()
    if np_dtype.kind in "fc":
        # Random bits include NaNs with payloads; TF keeps them, and so must we. Add the
        # named specials too.
        specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np_dtype)
        arr[: min(n, len(specials))] = specials[: min(n, len(specials))]
    return arr.reshape(shape)


def build_graph(rng: np.random.Generator, two_devices: bool) -> None:
    for i, name in enumerate(DTYPES):
        dev = f"/cpu:{i % 2}" if two_devices else "/cpu:0"
        dtype = tf.as_dtype(name)
        with tf.device(dev):
            for label, dims in (("m", (37, 3)), ("s", ()), ("e", (0, 2))):
                v = values(name, rng, dims)
                v1.Variable(tf.constant(v, dtype=dtype), name=f"{name}/{label}")
    # Partitioned variables: rows in 3 and 4 pieces, columns in 2, on both devices.
    parts: list[tuple[str, tuple[int, ...], Any, str]] = [
        ("float32", (10, 4), v1.fixed_size_partitioner(3), "/cpu:0"),
        ("float64", (9, 5), v1.fixed_size_partitioner(4), "/cpu:1" if two_devices else "/cpu:0"),
        ("int64", (6, 7), v1.fixed_size_partitioner(2, axis=1), "/cpu:0"),
        ("complex64", (5,), v1.fixed_size_partitioner(2), "/cpu:1" if two_devices else "/cpu:0"),
        ("int32", (300, 2), v1.fixed_size_partitioner(3), "/cpu:0"),
    ]
    for name, shape, partitioner, dev in parts:
        init = values(name, rng, shape)
        with tf.device(dev), v1.variable_scope("parted", partitioner=partitioner):
            v1.get_variable(
                f"{name}_{'x'.join(map(str, shape))}",
                shape=shape,
                dtype=tf.as_dtype(name),
                initializer=_slicer(init, tf.as_dtype(name)),
            )


def _slicer(full: np.ndarray[Any, Any], dtype: Any) -> Any:
    """An initializer giving each partition its own region of `full`."""

    def init(shape: Any, dtype: Any = dtype, partition_info: Any = None) -> Any:
        offset = partition_info.var_offset if partition_info is not None else [0] * full.ndim
        region = tuple(slice(o, o + int(d)) for o, d in zip(offset, shape))
        return tf.constant(full[region], dtype=dtype)

    return init


def save(prefix: Path, seed: int, sharded: bool) -> tuple[str, list[str]]:
    prefix.parent.mkdir(parents=True, exist_ok=True)
    config = v1.ConfigProto(device_count={"CPU": 2})
    with tf.Graph().as_default():
        build_graph(np.random.default_rng(seed), two_devices=sharded)
        saver = v1.train.Saver(
            write_version=v1.train.SaverDef.V1, sharded=sharded, save_relative_paths=True
        )
        with v1.Session(config=config) as sess:
            devices = [d.name for d in sess.list_devices()]
            sess.run(v1.global_variables_initializer())
            return str(saver.save(sess, str(prefix), write_meta_graph=False)), devices


def describe(prefix: str) -> dict[str, Any]:
    reader = tf.train.load_checkpoint(prefix)
    dtypes = reader.get_variable_to_dtype_map()
    out: dict[str, Any] = {}
    for key, shape in tf.train.list_variables(prefix):
        dtype = dtypes[key]
        (t,) = tf.raw_ops.RestoreV2(
            prefix=prefix, tensor_names=[key], shape_and_slices=[""], dtypes=[dtype]
        )
        out[key] = {
            "dtype": dtype.name,
            "shape": list(shape),
            "digest": canonical_digest(t.numpy()),
        }
    return out


def main() -> None:
    out_dir, seed = Path(sys.argv[1]), int(sys.argv[2])
    result: dict[str, Any] = {"checkpoints": {}, "latest": {}}
    for sub, sharded in (("single", False), ("sharded", True)):
        prefix, devices = save(out_dir / sub / "model.ckpt", seed + sharded, sharded)
        result["checkpoints"][os.path.relpath(prefix, out_dir)] = describe(prefix)
        result["devices"] = devices
        latest = tf.train.latest_checkpoint(str(out_dir / sub))
        result["latest"][sub] = os.path.relpath(latest, out_dir)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
