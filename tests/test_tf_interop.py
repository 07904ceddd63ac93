"""Live interop with TensorFlow 2.21 (`-m tf`): TF writes -> we read; we write -> TF reads;
our files == TF's SaveV2 files byte for byte. Hypothesis draws dtypes, shapes, names and
string contents; deterministic tests cover thousands of keys, big tensors, tf.train.Checkpoint
and partitioned variables.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfckpt_lite as tfc

from ._tfutil import ALL_DTYPES, STRING_SAMPLES, random_array, same_array

pytestmark = pytest.mark.tf
tf = pytest.importorskip("tensorflow")

TF_SETTINGS = settings(
    max_examples=int(os.environ.get("TFCKPT_TF_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def tf_tensor(name: str, value: Any) -> Any:
    if name == "string":
        return tf.constant(value, dtype=tf.string)
    return tf.constant(value, dtype=tf.as_dtype(name))


def tf_save(
    prefix: str, tensors: list[tuple[str, str, Any]], specs: list[str] | None = None
) -> None:
    tf.raw_ops.SaveV2(
        prefix=prefix,
        tensor_names=[k for k, _, _ in tensors],
        shape_and_slices=specs or [""] * len(tensors),
        tensors=[tf_tensor(d, v) for _, d, v in tensors],
    )


def tf_value(value: Any) -> Any:
    """TF's checkpoint reader returns a scalar string as `bytes`; we return a 0-d object array
    (the documented API: strings are object arrays). Compare on that footing."""
    if isinstance(value, bytes):
        out = np.empty((), dtype=object)
        out[()] = value
        return out
    return value


def files(prefix: str) -> tuple[bytes, bytes]:
    return Path(prefix + ".index").read_bytes(), Path(prefix + ".data-00000-of-00001").read_bytes()


def tf_restore(prefix: str, key: str, dtype: str, spec: str = "") -> Any:
    out = tf.raw_ops.RestoreV2(
        prefix=prefix, tensor_names=[key], shape_and_slices=[spec], dtypes=[tf.as_dtype(dtype)]
    )
    return tf_value(out[0].numpy())


def check_same_as_tf_reader(ours: tfc.CheckpointReader, prefix: str) -> None:
    """Keys, dtypes, shapes and values identical to tf.train.load_checkpoint's."""
    theirs = tf.train.load_checkpoint(prefix)
    shapes = theirs.get_variable_to_shape_map()
    dtypes = theirs.get_variable_to_dtype_map()
    assert list(ours) == sorted(shapes)
    assert ours.get_variable_to_shape_map() == shapes
    assert {k: v.name for k, v in ours.get_variable_to_dtype_map().items()} == {
        k: v.name for k, v in dtypes.items()
    }
    for k in shapes:
        if dtypes[k].name in ("variant", "resource"):
            continue
        assert same_array(ours[k], tf_value(theirs.get_tensor(k))), k


# -- strategies -----------------------------------------------------------------------------

_NAME_CHARS = st.characters(
    exclude_categories=["Cs"], exclude_characters="\x00", max_codepoint=0x1F600
)
_STEM = "model/encoder/layer_with_quite_a_long_shared_prefix/"
names = st.one_of(
    st.text(_NAME_CHARS, min_size=1, max_size=12),
    st.builds(lambda s: _STEM + s, st.text(_NAME_CHARS, max_size=5)),
    st.sampled_from(["a/b/c", "ünïcødé/变量", "x" * 300, "_CHECKPOINTABLE_OBJECT_GRAPH", "\xff"]),
)
shapes = st.lists(st.integers(0, 4), max_size=6).map(tuple)


@st.composite
def tensor_sets(draw: st.DrawFn) -> list[tuple[str, str, Any]]:
    keys = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    out = []
    for k in keys:
        dtype = draw(st.sampled_from(ALL_DTYPES))
        shape = draw(shapes)
        if draw(st.integers(0, 24)) == 0:  # now and then a tensor of a few MB
            shape = draw(st.sampled_from([(512, 1024), (3 << 18,), (64, 64, 64)]))
        if dtype == "string" and draw(st.booleans()):
            value = np.empty(len(STRING_SAMPLES), dtype=object)
            value[:] = STRING_SAMPLES
            value = value[: int(np.prod(shape))] if np.prod(shape) <= len(value) else value
        else:
            value = random_array(dtype, shape, rng)
        out.append((k, dtype, value))
    return out


# -- the three directions, driven by hypothesis ---------------------------------------------


@TF_SETTINGS
@given(tensor_sets())
def test_round_trips_and_bytes_match_tf(tensors: list[tuple[str, str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as d:
        tf_prefix, our_prefix = os.path.join(d, "tf", "ckpt"), os.path.join(d, "ours", "ckpt")
        tf_save(tf_prefix, tensors)
        tfc.save(our_prefix, {k: v for k, _, v in tensors}, fsync=False)
        # our bytes == TF's bytes, both files
        assert files(our_prefix) == files(tf_prefix)
        # TF writes -> we read exactly, and as TF's own reader does
        with tfc.load_checkpoint(tf_prefix) as r:
            for k, dtype, v in tensors:
                assert r.dtype(k) == dtype and r.shape(k) == v.shape
                assert same_array(r[k], v), k
            check_same_as_tf_reader(r, tf_prefix)
            assert r.verify() == len(tensors)
        # we write -> TF reads exactly (checkpoint reader and RestoreV2)
        theirs = tf.train.load_checkpoint(our_prefix)
        for k, dtype, v in tensors:
            assert theirs.get_variable_to_dtype_map()[k].name == dtype
            assert same_array(tf_value(theirs.get_tensor(k)), v), k
            assert same_array(tf_restore(our_prefix, k, dtype), v), k


@TF_SETTINGS
@given(st.sampled_from(ALL_DTYPES), st.integers(0, 2**32 - 1))
def test_get_slice_matches_tf_restore(dtype: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    value = random_array(dtype, (7, 3), rng)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "c")
        tf_save(p, [("x", dtype, value)])
        with tfc.load_checkpoint(p) as r:
            assert same_array(r.get_slice("x")[2:6], tf_restore(p, "x", dtype)[2:6])
            assert same_array(r.get_slice("x")[::-2], value[::-2])


# -- deterministic cases --------------------------------------------------------------------


def test_thousands_of_keys_span_several_index_blocks(tmp_path: Path) -> None:
    tensors: list[tuple[str, str, Any]] = [
        (f"layer_{i:05d}/some/long/variable/name/kernel", "float32", np.float32(i))
        for i in range(6000)
    ]
    tensors += [
        (f"emb/{i:04d}/ü", "string", np.array([b"v%d" % i], dtype=object)) for i in range(60)
    ]
    tf_save(str(tmp_path / "tf"), tensors)
    tfc.save(tmp_path / "ours", {k: v for k, _, v in tensors}, fsync=False)
    ours, theirs = files(str(tmp_path / "ours")), files(str(tmp_path / "tf"))
    assert ours == theirs
    from tfckpt_lite._table import read_table

    assert len(read_table(theirs[0])) == len(tensors) + 1
    # the table spans more than one 256 KiB data block, so the index block has several
    # separator keys, and those match TF's too
    assert len(theirs[0]) > 262144
    with tfc.load_checkpoint(tmp_path / "tf") as r:
        assert len(r) == len(tensors)
        assert r["layer_05999/some/long/variable/name/kernel"] == 5999
        assert r["emb/0059/ü"].tolist() == [b"v59"]


def test_big_tensors_byte_identical(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    big = rng.standard_normal((1024, 1024)).astype(np.float32)  # 4 MiB
    many_strings = np.array([rng.bytes(int(n)) for n in rng.integers(0, 300, 20000)], dtype=object)
    long_string = np.array(b"\x00" * (3 << 20) + b"end\x00", dtype=object)  # 3 MiB, NUL-ended
    tensors = [
        ("big", "float32", big),
        ("strings", "string", many_strings),
        ("long", "string", long_string),
        ("bf", "bfloat16", big[:512].astype(tf.bfloat16.as_numpy_dtype)),
    ]
    tf_save(str(tmp_path / "tf"), tensors)
    tfc.save(tmp_path / "ours", {k: v for k, _, v in tensors}, fsync=False)
    assert files(str(tmp_path / "ours")) == files(str(tmp_path / "tf"))
    with tfc.load_checkpoint(tmp_path / "tf") as r:
        for k, _, v in tensors:
            assert same_array(r[k], v), k
        assert np.array_equal(r.get_slice("big")[1000:1003], big[1000:1003])


def test_tf_train_checkpoint_reads_identically(tmp_path: Path) -> None:
    module_base: Any = tf.Module

    class Net(module_base):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4))
            self.b = tf.Variable(np.array([1, 2], np.int64))
            self.h = tf.Variable(np.ones(3), dtype=tf.bfloat16)
            self.s = tf.Variable([b"ab\x00", b""], dtype=tf.string)
            self.layers = [tf.Variable(float(i)) for i in range(3)]

    net = Net()
    ckpt = tf.train.Checkpoint(net=net, step=tf.Variable(5, dtype=tf.int64))
    prefix = ckpt.save(str(tmp_path / "ckpt"))
    with tfc.load_checkpoint(tmp_path) as r:  # via the `checkpoint` state file
        assert r.prefix == prefix
        assert "_CHECKPOINTABLE_OBJECT_GRAPH" in r
        check_same_as_tf_reader(r, prefix)
        assert r["net/s/.ATTRIBUTES/VARIABLE_VALUE"].tolist() == [b"ab\x00", b""]
        assert r.dtype("net/h/.ATTRIBUTES/VARIABLE_VALUE") == "bfloat16"
        assert r.verify() == len(r)
    assert tfc.latest_checkpoint(tmp_path) == tf.train.latest_checkpoint(str(tmp_path))
    # TF-compatible names return TF's own types: arrays, NumPy scalars for 0-d, bytes for a
    # 0-d string (the object graph), so e.g. `TrackableObjectGraph.FromString` still works.
    tf_reader = tf.train.load_checkpoint(prefix)
    with tfc.load_checkpoint(prefix) as r:
        for key in r:
            for ours_v, tf_v in (
                (r.get_tensor(key), tf_reader.get_tensor(key)),
                (tfc.load_variable(tmp_path, key), tf.train.load_variable(str(tmp_path), key)),
            ):
                assert type(ours_v) is type(tf_v), (key, type(ours_v), type(tf_v))
                assert same_array(ours_v, tf_v), key
            assert isinstance(r[key], np.ndarray)  # the Mapping side is always an array
    assert tfc.list_variables(tmp_path) == [
        (k, list(s)) for k, s in tf.train.list_variables(str(tmp_path))
    ]
    # we write a name-based checkpoint of the same values; TF restores it into a fresh model
    values = tfc.load(prefix)
    tfc.save(tmp_path / "copy" / "ckpt", values)
    ours = tf.train.load_checkpoint(str(tmp_path / "copy" / "ckpt"))
    for k, v in values.items():
        assert same_array(tf_value(ours.get_tensor(k)), v), k
    fresh = Net()
    tf.train.Checkpoint(net=fresh, step=tf.Variable(0, dtype=tf.int64)).read(
        str(tmp_path / "copy" / "ckpt")
    ).assert_existing_objects_matched()
    assert np.array_equal(fresh.w.numpy(), net.w.numpy())
    assert fresh.s.numpy().tolist() == [b"ab\x00", b""]


def test_partitioned_variable_we_write_tf_restores(tmp_path: Path) -> None:
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    ints = np.arange(12, dtype=np.int64).reshape(3, 4)
    specs: list[tuple[str, str, Any]] = [
        ("emb", "10 4 0,3:-", full[:3]),
        ("emb", "10 4 3,7:-", full[3:]),
    ]
    specs += [("grid", "3 4 0,3:0,1", ints[:, :1]), ("grid", "3 4 0,3:1,3", ints[:, 1:])]
    with tfc.BundleWriter(tmp_path / "ours") as w:
        for name, spec, value in specs:
            shape_part, _, slice_part = spec.rpartition(" ")
            w.add_slice(name, [int(x) for x in shape_part.split()], slice_part, value)
        w.add("plain", np.int32(3))
    # TF's SaveV2 with the same slices writes the very same bytes
    tf.raw_ops.SaveV2(
        prefix=str(tmp_path / "tf"),
        tensor_names=[n for n, _, _ in specs] + ["plain"],
        shape_and_slices=[s for _, s, _ in specs] + [""],
        tensors=[tf.constant(v) for _, _, v in specs] + [tf.constant(3, tf.int32)],
    )
    assert files(str(tmp_path / "ours")) == files(str(tmp_path / "tf"))
    p = str(tmp_path / "ours")
    assert np.array_equal(tf_restore(p, "emb", "float32"), full)
    assert np.array_equal(tf_restore(p, "emb", "float32", "10 4 2,5:1,2"), full[2:7, 1:3])
    assert np.array_equal(tf_restore(p, "grid", "int64"), ints)
    assert np.array_equal(tf.train.load_checkpoint(p).get_tensor("emb"), full)
    with tfc.load_checkpoint(tmp_path / "tf") as r:
        check_same_as_tf_reader(r, str(tmp_path / "tf"))
        assert list(r) == ["emb", "grid", "plain"]


def test_tf_sharded_save_reads_identically(tmp_path: Path) -> None:
    # a variable split by a sharding policy lands in several data files with sliced entries
    v = tf.Variable(np.arange(300, dtype=np.float32))
    small = tf.Variable(np.arange(4, dtype=np.int32))
    ckpt = tf.train.Checkpoint(v=v, small=small)
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=600)
    prefix = ckpt.write(
        str(tmp_path / "ckpt"),
        options=tf.train.CheckpointOptions(experimental_sharding_callback=policy),
    )
    with tfc.load_checkpoint(prefix) as r:
        check_same_as_tf_reader(r, prefix)
        assert np.array_equal(r["v/.ATTRIBUTES/VARIABLE_VALUE"], np.arange(300, dtype=np.float32))
        assert r.verify() == len(r)


@pytest.mark.parametrize("qname", ["qint8", "quint8", "qint16", "quint16", "qint32"])
def test_quantized_dtypes_tf_writes_we_read(tmp_path: Path, qname: str) -> None:
    # No NumPy type of their own: they read as the underlying integers, named as TF names them.
    base = {"qint8": np.int8, "quint8": np.uint8, "qint16": np.int16, "quint16": np.uint16}
    values = np.array([[1, 2, 3], [4, 5, 127]], dtype=base.get(qname, np.int32))
    qt = tf.dtypes.as_dtype(qname)
    tensor = tf.cast(tf.constant(values.astype(np.int32)), tf.int32)
    tensor = tf.bitcast(tf.constant(values), qt) if qname != "qint32" else tf.bitcast(tensor, qt)
    tf.raw_ops.SaveV2(
        prefix=str(tmp_path / "q"), tensor_names=["q"], shape_and_slices=[""], tensors=[tensor]
    )
    theirs = tf.train.load_checkpoint(str(tmp_path / "q"))
    with tfc.load_checkpoint(tmp_path / "q") as r:
        assert r.dtype("q") == qname == theirs.get_variable_to_dtype_map()["q"].name
        assert r.shape("q") == (2, 3)
        assert r["q"].tobytes() == values.tobytes()


def test_variant_and_saved_model(tmp_path: Path) -> None:
    it = iter(tf.data.Dataset.range(10))
    next(it)
    module = tf.Module()
    module.v = tf.Variable([1.0, 2.0])
    prefix = tf.train.Checkpoint(it=it, m=module).write(str(tmp_path / "ckpt"))
    with tfc.load_checkpoint(prefix) as r:
        key = "it/.ATTRIBUTES/ITERATOR_STATE"
        assert r.dtype(key) == "variant"
        assert (
            r.get_variable_to_shape_map()
            == tf.train.load_checkpoint(prefix).get_variable_to_shape_map()
        )
        with pytest.raises(tfc.UnsupportedCheckpointError):
            r[key]
        assert r.verify() == len(r)  # variant checksums are still checked
        check_same_as_tf_reader(r, prefix)
    tf.saved_model.save(module, str(tmp_path / "sm"))
    with tfc.load_checkpoint(tmp_path / "sm") as r:
        assert r.prefix == str(tmp_path / "sm" / "variables" / "variables")
        check_same_as_tf_reader(r, r.prefix)
        assert r["v/.ATTRIBUTES/VARIABLE_VALUE"].tolist() == [1.0, 2.0]


# TF's GetSliceValue copies only these dtypes (FORMAT 5.7)
SLICEABLE = ["float32", "float64", "int32", "uint8", "int16", "int8", "complex64"]
SLICEABLE += ["complex128", "int64", "bool", "bfloat16", "int4", "uint4"]


@st.composite
def partitions(draw: st.DrawFn) -> tuple[str, tuple[int, ...], list[str], Any]:
    dtype = draw(st.sampled_from(SLICEABLE))
    shape = tuple(draw(st.lists(st.integers(1, 6), min_size=1, max_size=3)))
    axis = draw(st.integers(0, len(shape) - 1))
    cuts = (
        sorted(draw(st.sets(st.integers(1, shape[axis] - 1), max_size=3)))
        if shape[axis] > 1
        else []
    )
    bounds = [0, *cuts, shape[axis]]
    explicit = draw(st.booleans())  # "0,4" (as Python's SaveSliceInfo writes) or "-"
    specs = []
    for a, b in itertools.pairwise(bounds):
        dims = []
        for i, d in enumerate(shape):
            if i == axis:
                dims.append(f"{a},{b - a}")
            else:
                dims.append(f"0,{d}" if explicit else "-")
        specs.append(":".join(dims))
    value = random_array(dtype, shape, np.random.default_rng(draw(st.integers(0, 2**32 - 1))))
    return dtype, shape, specs, value


def _region(shape: tuple[int, ...], spec: str) -> tuple[slice, ...]:
    out = []
    for part, d in zip(spec.split(":"), shape):
        if part == "-":
            out.append(slice(0, d))
        else:
            a, n = (int(x) for x in part.split(","))
            out.append(slice(a, a + n))
    return tuple(out)


@TF_SETTINGS
@given(partitions(), st.data())
def test_partitioned_round_trips_with_tf(
    part: tuple[str, tuple[int, ...], list[str], Any], data: st.DataObject
) -> None:
    dtype, shape, specs, value = part
    dims = " ".join(str(d) for d in shape)
    with tempfile.TemporaryDirectory() as d:
        ours, theirs = os.path.join(d, "ours"), os.path.join(d, "tf")
        with tfc.BundleWriter(ours, fsync=False) as w:
            for spec in specs:
                w.add_slice("p", shape, spec, value[_region(shape, spec)])
        tf.raw_ops.SaveV2(
            prefix=theirs,
            tensor_names=["p"] * len(specs),
            shape_and_slices=[f"{dims} {s}" for s in specs],
            tensors=[tf_tensor(dtype, value[_region(shape, s)]) for s in specs],
        )
        assert files(ours) == files(theirs)
        assert same_array(tf_restore(ours, "p", dtype), value)
        # a random sub-slice through TF's slice machinery
        sub = []
        for n in shape:
            a = data.draw(st.integers(0, n - 1))
            sub.append((a, data.draw(st.integers(1, n - a))))
        sub_spec = ":".join(f"{a},{n}" for a, n in sub)
        region = tuple(slice(a, a + n) for a, n in sub)
        assert same_array(tf_restore(ours, "p", dtype, f"{dims} {sub_spec}"), value[region])
        with tfc.load_checkpoint(theirs) as r:
            assert list(r) == ["p"] and r.shape("p") == shape and r.dtype("p") == dtype
            assert same_array(r["p"], value)


def test_checkpoint_manager_state_file(tmp_path: Path) -> None:
    v = tf.Variable(0.0)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=v), str(tmp_path), max_to_keep=2)
    for i in range(3):
        v.assign(float(i))
        manager.save()
    assert tfc.latest_checkpoint(tmp_path) == tf.train.latest_checkpoint(str(tmp_path))
    with tfc.load_checkpoint(tmp_path) as r:
        assert r.prefix == manager.latest_checkpoint
        assert r["v/.ATTRIBUTES/VARIABLE_VALUE"] == 2.0
    with tfc.load_checkpoint(str(tmp_path) + "/") as r:
        assert r["v/.ATTRIBUTES/VARIABLE_VALUE"] == 2.0
