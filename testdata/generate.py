"""Regenerate every TensorFlow-written fixture under ``testdata/`` and ``manifest.json``.

Run with a Python that has ``tensorflow-cpu==2.21.0 tf-keras==2.21.0`` (and the ``keras``
that TensorFlow installs)::

    /work/tfvenv/bin/python testdata/generate.py

Each fixture is written by a fresh subprocess (``generate.py --only NAME``), so TF1 graph
mode, the legacy-Keras switch, logical-device setup and Keras' global name counters never
leak between fixtures. Afterwards this process reads every fixture back with TensorFlow
(``tf.train.list_variables`` / ``tf.train.load_checkpoint``) and writes
``testdata/manifest.json``, and refreshes the generated part of ``testdata/README.md``.

Determinism: all values are fixed or come from fixed seeds; the tensor data and index files
of most fixtures are byte-identical between runs. Known exceptions (see README): the
``checkpoint`` state file of ``manager/`` (timestamps) and SavedModel protos.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))

from canonical import canonical_digest  # noqa: E402

sys.path.insert(0, str(HERE))
from _table import TABLE_MAGIC, describe_files  # noqa: E402

FIXTURES = [
    "savev2_example",
    "savev2_dtypes",
    "savev2_strings",
    "module_dtypes",
    "keras_tf_keras",
    "keras3",
    "partitioned",
    "sharded_policy",
    "two_shards_v1saver",
    "v1_format",
    "savedmodel",
    "manager",
    "iterator_variant",
]

# Dtype names as TensorFlow spells them (tf.dtypes.DType.name), in DataType enum order.
ALL_DTYPES = [
    "float32", "float64", "int32", "uint8", "int16", "int8", "string", "complex64",
    "int64", "bool", "qint8", "quint8", "qint32", "bfloat16", "qint16", "quint16",
    "uint16", "complex128", "float16", "uint32", "uint64", "float8_e5m2",
    "float8_e4m3fn", "float8_e4m3fnuz", "float8_e4m3b11fnuz", "float8_e5m2fnuz",
    "int4", "uint4", "int2", "uint2", "float4_e2m1fn",
]  # fmt: skip

NOTES_FILE = "_notes.json"  # per-fixture notes written by the subprocesses, merged later


# --------------------------------------------------------------------------------------
# helpers shared by the fixture writers (they import TensorFlow lazily)


def _tf() -> Any:
    import tensorflow as tf

    return tf


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"


def _sorted_attrs(text: str) -> str:
    """TF prints kernel attrs in hash order ("with these attrs: [b=1, a=2]"): sort them."""
    return re.sub(
        r"with these attrs: \[([^\]]*)\]",
        lambda m: "with these attrs: [" + ", ".join(sorted(m.group(1).split(", "))) + "]",
        text,
    )


def _useful_line(e: BaseException) -> str:
    """Class name + the most telling line of a (possibly multi-line) graph error."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    line = lines[0] if lines else ""
    for i, ln in enumerate(lines):
        if ln.startswith("Node: ") and i + 1 < len(lines):
            line = lines[i + 1]
            break
    return f"{type(e).__name__}: {_sorted_attrs(line)}"


def _note(fixture: str, **info: Any) -> None:
    """Merge ``info`` into ``testdata/<fixture>/_notes.json`` (consumed by the manifest)."""
    path = HERE / fixture / NOTES_FILE
    data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    data.update(info)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def _np_dtype(name: str) -> Any:
    """numpy dtype TF uses for ``name`` (qint* are TF's structured numpy types)."""
    return _tf().dtypes.as_dtype(name).as_numpy_dtype


def _float_like_info(name: str) -> Any:
    import ml_dtypes
    import numpy as np

    dt = np.dtype(_np_dtype(name))
    return ml_dtypes.finfo(dt) if name not in ("float16", "float32", "float64") else np.finfo(dt)


def _special_floats(name: str) -> list[float]:
    """Extremes of a float type, keeping only specials the type can represent."""
    import numpy as np

    dt = np.dtype(_np_dtype(name))
    fi = _float_like_info(name)
    vals = [float(fi.min), float(fi.max), float(fi.smallest_normal), float(fi.smallest_subnormal)]
    for special in (math.nan, math.inf, -math.inf, -0.0):
        back = float(np.array(special).astype(dt).astype(np.float64))
        same = (
            math.isnan(back)
            if math.isnan(special)
            else back == special and math.copysign(1.0, back) == math.copysign(1.0, special)
        )
        if same:
            vals.append(special)
    vals += [1.5, -2.5, 0.5]
    return vals


def _vector_values(name: str) -> Any:
    """A 1-D numpy array with extremes and nonzero ordinary values for dtype ``name``."""
    import ml_dtypes
    import numpy as np

    npdt = _np_dtype(name)
    if name == "string":
        return np.array([b"", b"a", b"\x00\xff", "\u00e9\u4e2d".encode()], dtype=object)
    if name == "bool":
        return np.array([True, False, True])
    if name.startswith("complex"):
        part = "float32" if name == "complex64" else "float64"
        fi = np.finfo(np.dtype(part))
        vals = [
            complex(float(fi.min), float(fi.max)),
            complex(math.nan, -0.0),
            complex(math.inf, -math.inf),
            complex(float(fi.smallest_subnormal), -1.0),
            complex(1.5, -2.5),
        ]
        return np.array(vals, dtype=npdt)
    if name.startswith("q"):
        base = {"qint8": np.int8, "quint8": np.uint8, "qint16": np.int16,
                "quint16": np.uint16, "qint32": np.int32}[name]  # fmt: skip
        ii = np.iinfo(base)
        return np.array([ii.min, ii.max, 1, 2, 3], dtype=base).astype(npdt)
    if name.startswith("float") or name == "bfloat16":
        return np.array(_special_floats(name), dtype=np.float64).astype(npdt)
    # integers (incl. ml_dtypes int4/uint4/int2/uint2)
    ii = ml_dtypes.iinfo(npdt) if name in ("int4", "uint4", "int2", "uint2") else np.iinfo(npdt)
    ordinary = [1, 2, 3] if name.startswith("u") else [-1, 1]
    vals = [int(ii.min), int(ii.max), *ordinary]
    if name in ("int4", "uint4", "int2", "uint2"):
        return np.array(vals, dtype=np.int64).astype(npdt)
    return np.array(vals, dtype=npdt)


def _filled(name: str, shape: tuple[int, ...]) -> Any:
    """Nonzero, position-dependent values of ``shape`` for dtype ``name``."""
    import numpy as np

    n = int(np.prod(shape)) if shape else 1
    idx = np.arange(n)
    npdt = _np_dtype(name)
    if name == "string":
        flat = np.array([f"s{i}".encode() for i in range(n)], dtype=object)
    elif name == "bool":
        flat = idx % 2 == 0
    elif name == "int2":  # int2 holds -2..1
        flat = np.where(idx % 2 == 0, 1, -1).astype(np.int64).astype(npdt)
    elif name == "uint2":
        flat = (idx % 3 + 1).astype(np.int64).astype(npdt)
    elif name in ("int4", "uint4", "float4_e2m1fn"):
        flat = (idx % 6 + 1).astype(np.int64).astype(npdt)
    elif name.startswith("q"):
        flat = _quantized(name, idx % 100 + 1)
    elif name.startswith(("int", "uint")):
        flat = (idx % 100 + 1).astype(npdt)
    elif name.startswith("complex"):
        flat = (idx + 1).astype(np.float64) * 0.5 - 1j * (idx + 1)
        flat = flat.astype(npdt)
    else:  # floats
        flat = ((idx % 7) + 1).astype(np.float64) * 0.5
        flat = flat.astype(npdt)
    return np.asarray(flat).reshape(shape)


def _quantized(name: str, flat: Any) -> Any:
    import numpy as np

    base = {"qint8": np.int8, "quint8": np.uint8, "qint16": np.int16,
            "quint16": np.uint16, "qint32": np.int32}[name]  # fmt: skip
    return flat.astype(base).astype(_np_dtype(name))


def _tensor(name: str, value: Any) -> Any:
    tf = _tf()
    return tf.constant(value, dtype=tf.dtypes.as_dtype(name))


def _save_v2(prefix: Path, tensors: list[tuple[str, Any]]) -> None:
    tf = _tf()
    tf.raw_ops.SaveV2(
        prefix=str(prefix),
        tensor_names=[k for k, _ in tensors],
        shape_and_slices=["" for _ in tensors],
        tensors=[t for _, t in tensors],
    )


# --------------------------------------------------------------------------------------
# fixtures


def fx_savev2_example() -> None:
    """FORMAT.md section 3.11, byte for byte."""
    import numpy as np

    tf = _tf()
    _save_v2(
        HERE / "savev2_example" / "ckpt",
        [
            ("w", tf.constant(np.arange(6, dtype=np.float32).reshape(2, 3))),
            ("b", tf.constant(7, dtype=tf.int32)),
            ("s", tf.constant([b"ab", b"", b"xyz"])),
            ("e", tf.constant([], dtype=tf.string)),
            ("scalar_str", tf.constant(b"hello")),
            ("d", tf.constant([1.5], dtype=tf.float64)),
        ],
    )
    _note("savev2_example", how={"ckpt": "tf.raw_ops.SaveV2 (FORMAT.md section 3.11)"})


def fx_savev2_dtypes() -> None:
    """One SaveV2 bundle: per dtype a vector of extremes, a scalar, empties, a rank-7 tensor."""
    import numpy as np

    tf = _tf()
    tensors: list[tuple[str, Any]] = []
    refused: dict[str, str] = {}
    for name in ALL_DTYPES:
        try:
            vec = _vector_values(name)
            cand = [
                (f"{name}/vector", _tensor(name, vec)),
                (f"{name}/scalar", _tensor(name, vec[1] if name != "string" else b"scalar")),
                (f"{name}/empty_0", _tensor(name, _filled(name, (0,)))),
                (f"{name}/empty_2x0x3", _tensor(name, _filled(name, (2, 0, 3)))),
                (f"{name}/rank7", _tensor(name, _filled(name, (2, 1, 2, 1, 2, 1, 2)))),
            ]
            # Probe: does SaveV2 accept (and TF read back) this dtype on its own?
            probe = HERE / "savev2_dtypes" / "_probe" / name
            _save_v2(probe, cand[:1])
            tf.train.load_checkpoint(str(probe)).get_tensor(f"{name}/vector")
        except Exception as e:  # a refused dtype: record why
            refused[name] = _useful_line(e)
            continue
        tensors += cand
    shutil.rmtree(HERE / "savev2_dtypes" / "_probe", ignore_errors=True)
    # DT_RESOURCE is not attempted: SaveV2 of a resource handle is a CHECK failure
    # (tensor_bundle.cc "Check failed: DataTypeCanUseMemcpy(val.dtype()) 20") that
    # aborts the whole process.
    refused["resource"] = (
        "not attempted: SaveV2 of a DT_RESOURCE handle aborts the process with "
        "'Check failed: DataTypeCanUseMemcpy(val.dtype()) 20' (tensor_bundle.cc)"
    )
    # A DT_VARIANT that SaveV2 writes but TF cannot decode back (dataset variant).
    ds = tf.data.Dataset.range(3)
    tensors.append(("variant/dataset", tf.data.experimental.to_variant(ds)))
    _save_v2(HERE / "savev2_dtypes" / "ckpt", tensors)
    _note(
        "savev2_dtypes",
        how={
            "ckpt": "tf.raw_ops.SaveV2, one call, keys "
            "<dtype>/{vector,scalar,empty_0,empty_2x0x3,rank7} + variant/dataset"
        },
        refused_dtypes=refused,
    )
    del np


def fx_savev2_strings() -> None:
    tf = _tf()
    s127 = bytes((i * 7 + 1) % 256 or 1 for i in range(127))
    s128 = bytes((i * 11 + 3) % 256 or 2 for i in range(128))
    s16k = bytes((i * 13 + 5) % 251 + 1 for i in range(16384))
    tensors = [
        ("empty_strings", tf.constant([b"", b"", b""])),
        ("trailing_nul", tf.constant([b"a\x00", b"\x00", b"abc\x00\x00"])),
        ("all_nul", tf.constant([b"\x00" * 5, b"\x00"])),
        ("len127", tf.constant([s127])),
        ("len128", tf.constant([s128])),
        ("len16384", tf.constant(s16k)),
        ("mixed_lengths", tf.constant([b"", s127, b"x", s128])),
        ("binary_0_255", tf.constant([bytes(range(256)), bytes(range(255, -1, -1))])),
        ("unicode", tf.constant(["h\u00e9llo", "\u4e2d\u6587", "\U0001f600", "\u00e9"])),
        ("matrix_2x3", tf.constant([[b"a", b"bb", b""], [b"ccc", b"\x00", b"d\xffe"]])),
        ("scalar", tf.constant(b"just one")),
        ("scalar_empty", tf.constant(b"")),
        ("empty_0", tf.constant([], dtype=tf.string)),
        ("empty_2x0", tf.zeros([2, 0], dtype=tf.string)),
    ]
    _save_v2(HERE / "savev2_strings" / "ckpt", tensors)
    _note("savev2_strings", how={"ckpt": "tf.raw_ops.SaveV2 of string tensors"})


def fx_module_dtypes() -> None:
    import numpy as np

    tf = _tf()
    tf.random.set_seed(1)
    refused: dict[str, str] = {}
    by_dtype: dict[str, Any] = {}
    for name in ALL_DTYPES:
        try:
            v = tf.Variable(_tensor(name, _vector_values(name)), name=f"v_{name}")
            # Probe that the variable is also checkpointable on its own.
            probe = HERE / "module_dtypes" / "_probe" / name
            tf.train.Checkpoint(v=v).write(str(probe))
        except Exception as e:
            refused[name] = _useful_line(e)
            continue
        by_dtype[name] = v
    shutil.rmtree(HERE / "module_dtypes" / "_probe", ignore_errors=True)

    root = tf.Module(name="root")
    root.encoder = tf.Module(name="encoder")
    root.encoder.inner = tf.Module(name="inner")
    root.encoder.inner.kernel = tf.Variable(
        np.arange(12, dtype=np.float32).reshape(3, 4) + 1, name="kernel"
    )
    root.encoder.bias = tf.Variable(np.array([0.5, -0.5], dtype=np.float32), name="bias")
    root.layers = [
        tf.Variable(np.array([1, 2, 3], dtype=np.int64), name="l0"),
        tf.Variable(np.array(2.5, dtype=np.float64), name="l1"),
        [tf.Variable(np.array([True, False]), name="nested_list")],
    ]
    root.table = {
        "a.b/c": tf.Variable(np.array([1.0, 2.0], dtype=np.float32), name="dotted"),
        "plain": tf.Variable(np.array(3, dtype=np.int32), name="plain"),
        "..": tf.Variable(np.array(4, dtype=np.int32), name="dots"),
        "x/y/z": tf.Variable(np.array([b"s"]), name="slashes"),
    }
    root.by_dtype = by_dtype
    root.scalar_string = tf.Variable(b"hello", name="scalar_string")
    root.shared = root.encoder.bias  # the same variable reachable by two paths

    tf.train.Checkpoint(model=root).write(str(HERE / "module_dtypes" / "written" / "ckpt"))
    saved = tf.train.Checkpoint(model=root).save(str(HERE / "module_dtypes" / "saved" / "ckpt"))
    _note(
        "module_dtypes",
        how={
            "written/ckpt": "tf.train.Checkpoint(model=module).write(prefix)",
            "saved/ckpt-1": "tf.train.Checkpoint(model=module).save(prefix) -> "
            + os.path.relpath(saved, HERE),
        },
        refused_variable_dtypes=refused,
    )


def fx_keras_tf_keras() -> None:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import numpy as np
    import tf_keras

    tf = _tf()
    out: dict[str, str] = {}
    for label, make_opt in (
        ("legacy_adam", lambda: tf_keras.optimizers.legacy.Adam(learning_rate=0.01)),
        ("adam", lambda: tf_keras.optimizers.Adam(learning_rate=0.01)),
    ):
        tf_keras.backend.clear_session()
        tf_keras.utils.set_random_seed(1234)
        model = tf_keras.Sequential(
            [
                tf_keras.layers.Dense(4, activation="relu", input_shape=(3,)),
                tf_keras.layers.BatchNormalization(),
                tf_keras.layers.Dense(2),
            ]
        )
        model.compile(optimizer=make_opt(), loss="mse")
        x = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(8, 3)
        y = np.stack([x.sum(axis=1), x[:, 0] - x[:, 2]], axis=1).astype(np.float32)
        model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
        model.save_weights(str(HERE / "keras_tf_keras" / label / "ckpt"), save_format="tf")
        out[f"{label}/ckpt"] = (
            f"tf_keras {tf_keras.__version__} Sequential(Dense, BatchNormalization, Dense), "
            f"optimizer {type(model.optimizer).__module__}.{type(model.optimizer).__name__}, "
            "fit 1 step, model.save_weights(prefix, save_format='tf')"
        )
    _note("keras_tf_keras", how=out)
    del tf


def fx_keras3() -> None:
    os.environ.pop("TF_USE_LEGACY_KERAS", None)
    import numpy as np

    tf = _tf()
    try:
        import keras
    except ImportError as e:
        _note("keras3", skipped=f"keras 3 not installed: {e}")
        return
    if not keras.__version__.startswith("3"):
        _note("keras3", skipped=f"keras is {keras.__version__}, not 3.x")
        return
    keras.utils.set_random_seed(1234)
    model = keras.Sequential(
        [
            keras.Input(shape=(3,)),
            keras.layers.Dense(4, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dense(2),
        ]
    )
    opt = keras.optimizers.Adam(learning_rate=0.01)
    model.compile(optimizer=opt, loss="mse")
    x = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(8, 3)
    y = np.stack([x.sum(axis=1), x[:, 0] - x[:, 2]], axis=1).astype(np.float32)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    tf.train.Checkpoint(model=model, optimizer=opt).write(str(HERE / "keras3" / "ckpt"))
    _note(
        "keras3",
        how={
            "ckpt": f"keras {keras.__version__} (backend {keras.backend.backend()}) "
            "Sequential(Dense, BatchNormalization, Dense) + Adam, fit 1 step, "
            "tf.train.Checkpoint(model=model, optimizer=opt).write(prefix)"
        },
    )


def _tf1() -> Any:
    tf = _tf()
    tf.compat.v1.disable_v2_behavior()
    return tf


def _arange_initializer(full_shape: tuple[int, ...]) -> Any:
    """TF1 initializer giving each partition its slice of ``arange(1, N+1)``."""
    import numpy as np

    full = (np.arange(int(np.prod(full_shape)), dtype=np.float32) + 1).reshape(full_shape)

    def init(shape: Any, dtype: Any = None, partition_info: Any = None) -> Any:
        offset = partition_info.var_offset if partition_info is not None else [0] * len(shape)
        index = tuple(slice(o, o + int(s)) for o, s in zip(offset, shape, strict=True))
        return _tf().constant(full[index], dtype=dtype)

    return init


def fx_partitioned() -> None:
    import numpy as np

    tf = _tf1()
    v1 = tf.compat.v1
    with tf.Graph().as_default():
        v1.set_random_seed(1)
        with v1.variable_scope("scope", partitioner=v1.fixed_size_partitioner(3)):
            v1.get_variable(
                "part",
                shape=[10, 4],
                dtype=tf.float32,
                initializer=_arange_initializer((10, 4)),
            )
        v1.get_variable(
            "normal", initializer=np.array([[1, 2], [3, 4]], dtype=np.int64), dtype=tf.int64
        )
        saver = v1.train.Saver(save_relative_paths=True)
        with v1.Session() as sess:
            sess.run(v1.global_variables_initializer())
            path = saver.save(
                sess, str(HERE / "partitioned" / "model.ckpt"), write_meta_graph=False
            )
    _note(
        "partitioned",
        how={
            os.path.relpath(path, HERE / "partitioned"): "TF1 graph mode, "
            "fixed_size_partitioner(3) variable [10,4] + normal variable, "
            "tf.compat.v1.train.Saver() (V2 format)"
        },
    )


def fx_sharded_policy() -> None:
    import numpy as np

    tf = _tf()
    ckpt = tf.train.Checkpoint(
        big=tf.Variable(np.arange(300, dtype=np.float32) + 1),
        mat=tf.Variable(np.arange(200, dtype=np.float32).reshape(20, 10) - 100.5),
        ints=tf.Variable(np.arange(60, dtype=np.int32).reshape(12, 5) + 1),
        small=tf.Variable(np.array(7, dtype=np.int64)),
        text=tf.Variable(np.array([b"alpha", b"beta"])),
    )
    max_size = 600
    options = tf.train.CheckpointOptions(
        experimental_sharding_callback=tf.train.experimental.MaxShardSizePolicy(
            max_shard_size=max_size
        )
    )
    ckpt.write(str(HERE / "sharded_policy" / "ckpt"), options=options)
    _note(
        "sharded_policy",
        how={
            "ckpt": "tf.train.Checkpoint(...).write(prefix, options=CheckpointOptions("
            f"experimental_sharding_callback=MaxShardSizePolicy(max_shard_size={max_size})))"
        },
    )


def fx_two_shards_v1saver() -> None:
    import numpy as np

    tf = _tf1()
    v1 = tf.compat.v1
    config = v1.ConfigProto(device_count={"CPU": 2}, allow_soft_placement=False)
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            v1.get_variable("dev0/a", initializer=np.array([1.0, 2.0, 3.0], dtype=np.float32))
            v1.get_variable("dev0/step", initializer=np.array(5, dtype=np.int64))
        with tf.device("/cpu:1"):
            v1.get_variable("dev1/b", initializer=np.arange(6, dtype=np.int32).reshape(2, 3))
            v1.get_variable("dev1/c", initializer=np.array([b"x", b"yy"]), dtype=tf.string)
        saver = v1.train.Saver(sharded=True, save_relative_paths=True)
        with v1.Session(config=config) as sess:
            devices = [d.name for d in sess.list_devices()]
            sess.run(v1.global_variables_initializer())
            path = saver.save(
                sess, str(HERE / "two_shards_v1saver" / "model.ckpt"), write_meta_graph=False
            )
    _note(
        "two_shards_v1saver",
        how={
            os.path.relpath(path, HERE / "two_shards_v1saver"): "TF1 graph mode, "
            "ConfigProto(device_count={'CPU': 2}), variables on /cpu:0 and /cpu:1, "
            "tf.compat.v1.train.Saver(sharded=True) (V2 format)"
        },
        session_devices=devices,
    )


V1_CANDIDATES = [
    "float32", "float64", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
    "uint64", "bool", "complex64", "complex128", "float16", "bfloat16", "string", "qint8",
    "quint8", "qint32",
]  # fmt: skip


def _v1_graph(names: list[str], partitioned: bool, two_devices: bool) -> None:
    tf = _tf()
    v1 = tf.compat.v1
    for i, name in enumerate(names):
        dev = f"/cpu:{i % 2}" if two_devices else "/cpu:0"
        with tf.device(dev):
            v1.Variable(_tensor(name, _vector_values(name)), name=f"dtype_{name}")
    if partitioned:
        partitioner = v1.fixed_size_partitioner(3)
        with tf.device("/cpu:0"), v1.variable_scope("scope", partitioner=partitioner):
            v1.get_variable(
                "part",
                shape=[10, 4],
                dtype=tf.float32,
                initializer=_arange_initializer((10, 4)),
            )


def _v1_save(prefix: Path, names: list[str], *, sharded: bool, partitioned: bool) -> str:
    tf = _tf()
    v1 = tf.compat.v1
    config = v1.ConfigProto(device_count={"CPU": 2})
    prefix.parent.mkdir(parents=True, exist_ok=True)
    with tf.Graph().as_default():
        _v1_graph(names, partitioned, two_devices=sharded)
        saver = v1.train.Saver(
            write_version=v1.train.SaverDef.V1, sharded=sharded, save_relative_paths=True
        )
        with v1.Session(config=config) as sess:
            sess.run(v1.global_variables_initializer())
            return str(saver.save(sess, str(prefix), write_meta_graph=False))


def fx_v1_format() -> None:
    _tf1()
    accepted: list[str] = []
    refused: dict[str, str] = {}
    probe_dir = HERE / "v1_format" / "_probe"
    for name in V1_CANDIDATES:
        try:
            _v1_save(probe_dir / name / "p", [name], sharded=False, partitioned=False)
        except Exception as e:
            refused[name] = _useful_line(e)
            continue
        accepted.append(name)
    shutil.rmtree(probe_dir, ignore_errors=True)
    single = _v1_save(
        HERE / "v1_format" / "single" / "model.ckpt", accepted, sharded=False, partitioned=True
    )
    sharded = _v1_save(
        HERE / "v1_format" / "sharded" / "model.ckpt", accepted, sharded=True, partitioned=True
    )
    _note(
        "v1_format",
        how={
            os.path.relpath(single, HERE / "v1_format"): "TF1 graph mode, "
            "tf.compat.v1.train.Saver(write_version=SaverDef.V1), one file",
            os.path.relpath(sharded, HERE / "v1_format"): "TF1 graph mode, two CPU devices, "
            "tf.compat.v1.train.Saver(write_version=SaverDef.V1, sharded=True)",
        },
        v1_accepted_dtypes=accepted,
        v1_refused_dtypes=refused,
    )


def fx_savedmodel() -> None:
    import numpy as np

    tf = _tf()

    class Adder(tf.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.array([1.0, 2.0, 3.0], dtype=np.float32), name="w")
            self.count = tf.Variable(np.array(0, dtype=np.int64), name="count")

        @tf.function(input_signature=[tf.TensorSpec([3], tf.float32)])
        def __call__(self, x: Any) -> Any:
            self.count.assign_add(1)
            return x + self.w

    model = Adder()
    model(tf.constant([0.0, 0.0, 0.0]))
    tf.saved_model.save(model, str(HERE / "savedmodel" / "model"))
    _note(
        "savedmodel",
        how={
            "model/variables/variables": "tf.saved_model.save(tf.Module with 2 variables "
            "and a tf.function, called once)"
        },
    )


def fx_manager() -> None:
    import numpy as np

    tf = _tf()
    v = tf.Variable(np.array([0.0, 0.0], dtype=np.float32))
    step = tf.Variable(np.array(0, dtype=np.int64))
    ckpt = tf.train.Checkpoint(v=v, step=step)
    manager = tf.train.CheckpointManager(ckpt, str(HERE / "manager"), max_to_keep=2)
    paths = []
    for i in range(3):
        v.assign([float(i), float(-i)])
        step.assign(i + 1)
        paths.append(os.path.relpath(manager.save(), HERE / "manager"))
    _note(
        "manager",
        how=dict.fromkeys(
            paths[1:], "tf.train.CheckpointManager(max_to_keep=2), 3 saves (ckpt-1 deleted)"
        ),
    )


def fx_iterator_variant() -> None:
    tf = _tf()
    it = iter(tf.data.Dataset.range(10))
    next(it)
    next(it)
    tf.train.Checkpoint(it=it).write(str(HERE / "iterator_variant" / "ckpt"))
    _note(
        "iterator_variant",
        how={"ckpt": "tf.train.Checkpoint(it=iter(tf.data.Dataset.range(10))) after 2 next()"},
    )


WRITERS: dict[str, Callable[[], None]] = {name: globals()[f"fx_{name}"] for name in FIXTURES}


# --------------------------------------------------------------------------------------
# manifest


def _json_scalar(x: Any, dtype_name: str) -> Any:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).hex()
    if isinstance(x, str):
        return x.encode().hex()
    if isinstance(x, bool):
        return x
    if isinstance(x, int):
        return x
    if isinstance(x, complex):
        return [_json_scalar(x.real, dtype_name), _json_scalar(x.imag, dtype_name)]
    if isinstance(x, float):
        if math.isnan(x):
            return "nan"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        return x
    raise TypeError(f"unexpected {type(x).__name__} in {dtype_name} tensor")


def json_values(value: Any, dtype_name: str) -> Any:
    """Plain-JSON rendering of a (small) tensor value; bytes as hex, NaN/inf as strings."""
    import numpy as np

    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    arr = np.asarray(value)
    if arr.dtype.kind in "OSU":
        py = arr.tolist()
    elif arr.dtype.names is not None:
        py = arr.view(arr.dtype.fields[arr.dtype.names[0]][0]).tolist()  # type: ignore[index]
    elif arr.dtype.kind in "biufc":
        py = arr.tolist()
    elif dtype_name in ("int4", "uint4", "int2", "uint2"):
        py = arr.astype(np.int64).tolist()
    else:  # ml_dtypes floats
        py = arr.astype(np.float64).tolist()

    def conv(obj: Any) -> Any:
        if isinstance(obj, list):
            return [conv(o) for o in obj]
        return _json_scalar(obj, dtype_name)

    return conv(py)


def describe_checkpoint(prefix: str, *, values: bool, full_error: bool = True) -> dict[str, Any]:
    """What TF 2.21 reads from checkpoint ``prefix``: keys, dtypes, shapes, digests/errors."""
    import numpy as np

    tf = _tf()
    out: dict[str, Any] = {}
    try:
        listed = tf.train.list_variables(prefix)
        reader = tf.train.load_checkpoint(prefix)
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as e:
        out["open_error"] = _first_line(e) if not full_error else _error_text(e)
        return out
    tensors: dict[str, Any] = {}
    for key, shape in listed:
        rec: dict[str, Any] = {"dtype": dtypes[key].name, "shape": list(shape)}
        try:
            val = reader.get_tensor(key)
        except Exception as e:
            rec["error"] = _error_text(e) if full_error else _first_line(e)
            # Second opinion: the RestoreV2 kernel (what Saver/Checkpoint.restore run)
            # reads some tensors the Python CheckpointReader refuses (e.g. V1 complex64).
            try:
                restored = _restore_v2(prefix, key, dtypes[key].name)
                if dtypes[key].name == "variant":
                    rec["restore_v2"] = "RestoreV2 decoded it (DT_VARIANT: no NumPy value)"
                else:
                    rec["restore_v2_digest"] = canonical_digest(restored.numpy())
            except Exception as e2:
                rec["restore_v2_error"] = _useful_line(e2)
        else:
            rec["digest"] = canonical_digest(val)
            if values and int(np.prod(shape)) <= 16 and key != "_CHECKPOINTABLE_OBJECT_GRAPH":
                rec["values"] = json_values(val, dtypes[key].name)
        tensors[key] = rec
    out["tensors"] = tensors
    return out


def _restore_v2(prefix: str, key: str, dtype_name: str) -> Any:
    tf = _tf()
    (t,) = tf.raw_ops.RestoreV2(
        prefix=prefix,
        tensor_names=[key],
        shape_and_slices=[""],
        dtypes=[tf.dtypes.as_dtype(dtype_name)],
    )
    return t


def _error_text(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text}"


def find_prefixes(folder: Path) -> list[tuple[str, str]]:
    """(prefix, format) for every checkpoint under a fixture folder."""
    found: list[tuple[str, str]] = []
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        if path.name.endswith(".index"):
            found.append((str(path)[: -len(".index")], "v2"))
        elif _is_v1_table(path):
            stem = path.name
            # Sharded V1: basename-00000-of-00002 -> TF accepts the glob pattern.
            m = re.fullmatch(r"(.*)-(\d{5})-of-(\d{5})", stem)
            if m:
                pattern = str(path.parent / f"{m.group(1)}-?????-of-{m.group(3)}")
                if (pattern, "v1") not in found:
                    found.append((pattern, "v1"))
            else:
                found.append((str(path), "v1"))
    return found


def _is_v1_table(path: Path) -> bool:
    if path.name.endswith(".index") or ".data-" in path.name:
        return False
    size = path.stat().st_size
    if size < 48:
        return False
    with path.open("rb") as f:
        f.seek(size - 8)
        return f.read(8) == TABLE_MAGIC


def _files_of(prefix: str, fmt: str) -> list[Path]:
    p = Path(prefix)
    if fmt == "v1":
        if "?" in p.name:
            return sorted(p.parent.glob(p.name))
        return [p]
    return sorted(
        q for q in p.parent.iterdir() if q.name == p.name + ".index"
        or q.name.startswith(p.name + ".data-")
    )  # fmt: skip


def build_manifest() -> dict[str, Any]:
    tf = _tf()
    import keras
    import tf_keras

    checkpoints: dict[str, Any] = {}
    fixtures: dict[str, Any] = {}
    old_path = HERE / "manifest.json"
    old = json.loads(old_path.read_text()) if old_path.exists() else {}
    for name in FIXTURES:
        folder = HERE / name
        notes_path = folder / NOTES_FILE
        if notes_path.exists():
            notes = json.loads(notes_path.read_text())
        else:  # --manifest-only: take the generator's notes from the previous manifest
            prev = old.get("fixtures", {}).get(name, {})
            notes = {k: v for k, v in prev.items() if k not in ("files", "total_bytes")}
            notes["how"] = {
                os.path.relpath(p, name): c.get("how")
                for p, c in old.get("checkpoints", {}).items()
                if c.get("fixture") == name
            }
        fixtures[name] = {k: v for k, v in notes.items() if k != "how"}
        fixtures[name]["files"] = {
            str(p.relative_to(HERE)): {
                "size": p.stat().st_size,
                "sha256": hashlib.sha256(p.read_bytes()).hexdigest(),
            }
            for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != NOTES_FILE
        }
        fixtures[name]["total_bytes"] = sum(f["size"] for f in fixtures[name]["files"].values())
        how = notes.get("how", {})
        for prefix, fmt in find_prefixes(folder):
            rel = os.path.relpath(prefix, HERE)
            rel_in_fixture = os.path.relpath(prefix, folder)
            rec: dict[str, Any] = {
                "fixture": name,
                "format": fmt,
                "how": how.get(rel_in_fixture, how.get(rel_in_fixture.replace("?????", "00000"))),
                "tf_version": tf.__version__,
                "files": sorted(str(p.relative_to(HERE)) for p in _files_of(prefix, fmt)),
            }
            rec["index"] = describe_files(prefix, fmt, _files_of(prefix, fmt))
            rec.update(describe_checkpoint(prefix, values=True))
            checkpoints[rel] = rec
    return {
        "generator": "testdata/generate.py",
        "versions": {
            "tensorflow": tf.__version__,
            "tf_keras": tf_keras.__version__,
            "keras": keras.__version__,
            "numpy": __import__("numpy").__version__,
            "python": sys.version.split()[0],
        },
        "digest_rule": "tests/canonical.py canonical_digest of reader.get_tensor(key)",
        "fixtures": fixtures,
        "checkpoints": checkpoints,
    }


# --------------------------------------------------------------------------------------
# README (generated section)

README_BEGIN = "<!-- BEGIN GENERATED: fixtures (testdata/generate.py) -->"
README_END = "<!-- END GENERATED: fixtures -->"


def replace_section(text: str, begin: str, end: str, body: str) -> str:
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        return f"{head}{begin}\n{body}\n{end}{tail}"
    return f"{text.rstrip()}\n\n{begin}\n{body}\n{end}\n"


def readme_section(manifest: dict[str, Any]) -> str:
    v = manifest["versions"]
    lines = [
        f"Written by TensorFlow {v['tensorflow']}, tf-keras {v['tf_keras']}, keras "
        f"{v['keras']}, numpy {v['numpy']}, Python {v['python']}.",
        "",
        "| fixture | files | bytes | checkpoints (prefix: format, keys) |",
        "|---|---:|---:|---|",
    ]
    total = 0
    for name, fx in manifest["fixtures"].items():
        cks = [
            f"`{os.path.relpath(p, name)}`: {c['format']}, {len(c.get('tensors', {}))} keys"
            for p, c in manifest["checkpoints"].items()
            if c["fixture"] == name
        ]
        total += fx["total_bytes"]
        lines.append(
            f"| `{name}/` | {len(fx['files'])} | {fx['total_bytes']} | "
            f"{'; '.join(cks) or fx.get('skipped', '-')} |"
        )
    lines.append(f"| **total** | | **{total}** | |")
    lines.append("")
    lines.append("Refused by TensorFlow (recorded by the generator):")
    lines.append("")
    for name, fx in manifest["fixtures"].items():
        for field in ("refused_dtypes", "refused_variable_dtypes", "v1_refused_dtypes"):
            for dt, why in fx.get(field, {}).items():
                lines.append(f"* `{name}` ({field}): **{dt}**: {why}")
        if "v1_accepted_dtypes" in fx:
            lines.append(f"* `{name}`: V1 accepted: {', '.join(fx['v1_accepted_dtypes'])}")
    errs = [
        (p, k, t["error"])
        for p, c in manifest["checkpoints"].items()
        for k, t in c.get("tensors", {}).items()
        if "error" in t
    ]
    lines.append("")
    lines.append("Keys that TensorFlow lists but cannot read back (`error` in the manifest):")
    lines.append("")
    for p, k, e in errs:
        lines.append(f"* `{p}` `{k}`: {e.splitlines()[0]}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------


def run_one(name: str) -> None:
    folder = HERE / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    WRITERS[name]()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--only", choices=FIXTURES, help="(internal) write one fixture")
    parser.add_argument(
        "--manifest-only", action="store_true", help="re-read fixtures, rewrite manifest"
    )
    args = parser.parse_args(argv)
    if args.only:
        run_one(args.only)
        return 0
    if not args.manifest_only:
        for name in FIXTURES:
            print(f"== {name}", flush=True)
            subprocess.run([sys.executable, __file__, "--only", name], check=True)
    manifest = build_manifest()
    for name in FIXTURES:
        (HERE / name / NOTES_FILE).unlink(missing_ok=True)
    text = json.dumps(manifest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    (HERE / "manifest.json").write_text(text)
    readme = HERE / "README.md"
    current = readme.read_text() if readme.exists() else "# testdata\n"
    readme.write_text(replace_section(current, README_BEGIN, README_END, readme_section(manifest)))
    print(readme_section(manifest))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
