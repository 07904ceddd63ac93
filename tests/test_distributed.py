"""Sharded saves from several writers: `part_prefix` + `merge_v2_checkpoints`.

TF's MergeV2Checkpoints is the oracle (tests marked `tf`): on the same parts it must produce the
same files, byte for byte, and TF must restore what we merge.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._distributed import merge_v2_checkpoints, part_prefix


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _write_parts(prefix: str, parts: list[dict[str, Any]]) -> list[str]:
    out = []
    for i, tensors in enumerate(parts):
        p = part_prefix(prefix, i, len(parts))
        tfc.save(p, tensors)
        out.append(p)
    return out


def test_part_prefix_is_tfs_temporary_name(tmp_path: Path) -> None:
    assert part_prefix(tmp_path / "ckpt-3", 2, 4) == f"{tmp_path}/ckpt-3_temp/part-00002-of-00004"
    with pytest.raises(ValueError, match="part"):
        part_prefix("x", 4, 4)
    with pytest.raises(ValueError, match="num_parts"):
        part_prefix("x", 0, 0)


def test_merge_reads_back_every_tensor_and_cleans_up(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parts = [
        {f"w{i}/kernel": rng.standard_normal((3, i + 1)).astype(np.float32), f"s{i}": np.int64(i)}
        for i in range(3)
    ]
    prefix = str(tmp_path / "model")
    shards = _write_parts(prefix, parts)
    assert merge_v2_checkpoints(shards, prefix) == prefix
    names = sorted(os.listdir(tmp_path))
    assert names == [
        "model.data-00000-of-00003",
        "model.data-00001-of-00003",
        "model.data-00002-of-00003",
        "model.index",
    ]  # the parts' directory is gone
    got = tfc.load(prefix)
    want = {k: v for p in parts for k, v in p.items()}
    assert sorted(got) == sorted(want)
    for k, v in want.items():
        np.testing.assert_array_equal(got[k], v)
    # written into, like everything we return, without touching the file
    got["w0/kernel"] += 1
    np.testing.assert_array_equal(tfc.load(prefix)["w0/kernel"], parts[0]["w0/kernel"])


def test_partitioned_tensor_split_across_parts(tmp_path: Path) -> None:
    full = np.arange(40, dtype=np.float32).reshape(10, 4)
    prefix = str(tmp_path / "ckpt")
    shards = []
    for i, (start, rows) in enumerate([(0, 4), (4, 6)]):
        p = part_prefix(prefix, i, 2)
        with tfc.BundleWriter(p) as w:
            w.add_slice("emb", (10, 4), f"{start},{rows}:-", full[start : start + rows])
            w.add(f"other{i}", np.float64(i))
        shards.append(p)
    merge_v2_checkpoints(shards, prefix)
    r = tfc.load_checkpoint(prefix)
    np.testing.assert_array_equal(r["emb"], full)
    assert sorted(r) == ["emb", "other0", "other1"]


def test_duplicate_key_is_refused_without_side_effects(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    shards = _write_parts(prefix, [{"a": np.ones(2)}, {"a": np.zeros(2)}])
    before = _files(tmp_path)
    with pytest.raises(ValueError, match="duplicate tensor keyed by 'a'"):
        merge_v2_checkpoints(shards, prefix)
    assert _files(tmp_path) == before


def test_damaged_part_names_the_file_and_renames_nothing(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    shards = _write_parts(prefix, [{"a": np.ones(2)}, {"b": np.zeros(2)}])
    index = Path(shards[1] + ".index")
    raw = bytearray(index.read_bytes())
    raw[5] ^= 0xFF
    index.write_bytes(bytes(raw))
    before = _files(tmp_path)
    with pytest.raises(tfc.CorruptCheckpointError) as info:
        merge_v2_checkpoints(shards, prefix)
    assert info.value.path == str(index)
    assert _files(tmp_path) == before


def test_missing_parts(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    shards = _write_parts(prefix, [{"a": np.ones(2)}, {"b": np.zeros(2)}])
    missing = part_prefix(prefix, 2, 3)
    with pytest.raises(tfc.CheckpointNotFoundError):
        merge_v2_checkpoints([*shards, missing], prefix)
    merge_v2_checkpoints([*shards, missing], prefix, allow_missing_files=True)
    assert sorted(tfc.load(prefix)) == ["a", "b"]


def test_worker_without_tensors_leaves_a_readable_checkpoint(tmp_path: Path) -> None:
    prefix = str(tmp_path / "ckpt")
    shards = _write_parts(prefix, [{"a": np.ones(2)}, {}, {"b": np.zeros(2)}])
    merge_v2_checkpoints(shards, prefix)
    assert sorted(os.listdir(tmp_path)) == [
        "ckpt.data-00000-of-00002",
        "ckpt.data-00001-of-00002",
        "ckpt.index",
    ]
    assert sorted(tfc.load(prefix)) == ["a", "b"]


@pytest.mark.parametrize(
    "dest",
    ["nosuch://bucket/run/ckpt", "https://example.com/run/ckpt", "memory://bucket/run/ckpt"],
)
def test_a_destination_it_cannot_write_to_is_refused_before_anything_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dest: str
) -> None:
    """A URL is never taken for a local path: no store for it, a store that takes no
    uploads, or parts in another store than the destination (a rename cannot cross
    stores) is a ValueError naming it, with the parts untouched and no local folder made
    from the URL (`nosuch:/bucket/...`)."""
    pytest.importorskip("fsspec")
    monkeypatch.chdir(tmp_path)
    shards = _write_parts("run/ckpt", [{"a": np.ones(2)}, {"b": np.zeros(2)}])
    before = _files(tmp_path)
    with pytest.raises(ValueError, match=dest.split("/run")[0]):
        merge_v2_checkpoints(shards, dest)
    assert _files(tmp_path) == before
    assert sorted(os.listdir(tmp_path)) == ["run"]


def test_merge_in_a_bucket_gives_the_local_merge_bytes(tmp_path: Path) -> None:
    """Parts written to a store (fsspec's memory store here; S3 and GCS over their wire
    protocols in test_remote_stores.py) merge there into the same bytes as on disk."""
    fsspec = pytest.importorskip("fsspec")
    rng = np.random.default_rng(1)
    parts: list[dict[str, Any]] = [
        {f"w{i}": rng.standard_normal((4, i + 2)).astype(np.float32)} for i in range(3)
    ]
    parts[1]["step"] = np.int64(7)
    local = str(tmp_path / "ckpt")
    merge_v2_checkpoints(_write_parts(local, parts), local)
    url = f"memory://bucket/{tmp_path.name}/ckpt"
    fs = fsspec.filesystem("memory")
    try:
        assert merge_v2_checkpoints(_write_parts(url, parts), url) == url
        root = f"bucket/{tmp_path.name}"
        stored = {p.rsplit("/", 1)[1]: fs.cat_file(p) for p in fs.find(root)}
        assert stored == {n: (tmp_path / n).read_bytes() for n in os.listdir(tmp_path)}
        got = tfc.load(url)
        assert sorted(got) == ["step", "w0", "w1", "w2"]
        for tensors in parts:
            for k, v in tensors.items():
                assert np.array_equal(got[k], v)
    finally:
        fs.rm(f"bucket/{tmp_path.name}", recursive=True)


# -- against TensorFlow ------------------------------------------------------------------------


@pytest.mark.tf
def test_byte_identical_to_tf_merge_and_tf_restores(tmp_path: Path) -> None:
    tf = pytest.importorskip("tensorflow")
    rng = np.random.default_rng(7)
    emb = rng.standard_normal((12, 5)).astype(np.float32)
    # 4 workers, one of them holding two slices of the partitioned "emb" and strings.
    kernel = rng.standard_normal((4, 3)).astype(np.float32)
    parts: list[list[tuple[str, str, Any]]] = [
        [("b/kernel", "", kernel), ("emb", "12 5 0,3:-", emb[:3])],
        [("a/bias", "", rng.standard_normal(7)), ("step", "", np.array(5, np.int64))],
        [("emb", "12 5 3,9:-", emb[3:]), ("vocab", "", np.array([b"x", b"yz"], dtype=object))],
        [("z/w", "", rng.standard_normal((2, 2)).astype(np.float32))],
    ]  # fmt: skip
    src = tmp_path / "src"
    prefix_rel = "run/ckpt-1"
    shard_prefixes = []
    for i, tensors in enumerate(parts):
        p = part_prefix(str(src / prefix_rel), i, len(parts))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        tf.raw_ops.SaveV2(
            prefix=p,
            tensor_names=[n for n, _, _ in tensors],
            shape_and_slices=[s for _, s, _ in tensors],
            tensors=[tf.constant(v) for _, _, v in tensors],
        )
        shard_prefixes.append(os.path.relpath(p, src))
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    shutil.copytree(src, theirs)
    shutil.copytree(src, ours)
    tf.raw_ops.MergeV2Checkpoints(
        checkpoint_prefixes=[str(theirs / p) for p in shard_prefixes],
        destination_prefix=str(theirs / prefix_rel),
        delete_old_dirs=True,
    )
    merge_v2_checkpoints([str(ours / p) for p in shard_prefixes], str(ours / prefix_rel))
    assert _files(ours) == _files(theirs)
    # TF restores the tensors (and the partitioned one whole) from what we merged.
    reader = tf.train.load_checkpoint(str(ours / prefix_rel))
    np.testing.assert_array_equal(reader.get_tensor("emb"), emb)
    assert reader.get_tensor("vocab").tolist() == [b"x", b"yz"]
    assert reader.get_tensor("step") == 5


_WORKER = textwrap.dedent(
    """
    import sys, numpy as np, tfckpt_lite as tfc
    from tfckpt_lite._distributed import part_prefix
    prefix, part, parts, count, rows = sys.argv[1], *map(int, sys.argv[2:])
    with tfc.BundleWriter(part_prefix(prefix, part, parts)) as w:
        for t in range(count):
            rng = np.random.default_rng(part * 1000 + t)
            w.add(f"layer_{part}_{t:03d}/kernel", rng.standard_normal((rows, 1024), np.float32))
    """
)


@pytest.mark.tf
@pytest.mark.slow
def test_four_processes_write_4gib_then_tf_restores(tmp_path: Path) -> None:
    """4 worker processes each stream 1 GiB (16 x 64 MiB) into their part; one merge; TF reads
    every tensor back and it matches the generator, by SHA-256."""
    tf = pytest.importorskip("tensorflow")
    parts, count, rows = 4, 16, 16384  # 16384 x 1024 float32 = 64 MiB
    prefix = str(tmp_path / "ckpt-1")
    src = str(Path(tfc.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WORKER, prefix, str(i), str(parts), str(count), str(rows)],
            env=env,
        )
        for i in range(parts)
    ]
    assert [p.wait(timeout=600) for p in procs] == [0] * parts
    merge_v2_checkpoints([part_prefix(prefix, i, parts) for i in range(parts)], prefix)
    total = sum(os.path.getsize(f"{prefix}.data-{i:05d}-of-{parts:05d}") for i in range(parts))
    assert total == parts * count * rows * 1024 * 4
    reader = tf.train.load_checkpoint(prefix)
    keys = sorted(reader.get_variable_to_shape_map())
    assert len(keys) == parts * count
    for key in keys:
        part, t = (int(x) for x in key.split("/")[0].split("_")[1:])
        want = np.random.default_rng(part * 1000 + t).standard_normal((rows, 1024), np.float32)
        got = reader.get_tensor(key)
        assert hashlib.sha256(got.tobytes()).digest() == hashlib.sha256(want.tobytes()).digest()
