"""Remote checkpoints through fsspec: the memory filesystem and a loopback HTTP server.

The HTTP server counts the bytes it sends, so the tests assert what a read really costs:
opening fetches the index only, one tensor fetches its own byte range, `load()` fetches
the data once in a few coalesced parallel requests.
"""

from __future__ import annotations

import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import tfckpt_lite as tfc
from tfckpt_lite._remote import MAX_REQUEST, coalesce, is_url

try:
    import fsspec
except ImportError:  # the `remote` extra is optional
    fsspec = None

# A module-level importorskip would report a skip even under `-m tf` (which selects none of
# these), and `.ci/run` fails on any skip there; so skip test by test.
needs_fsspec = pytest.mark.skipif(fsspec is None, reason="needs fsspec (the remote extra)")

MiB = 1 << 20


def test_coalesce() -> None:
    assert coalesce([(0, 10), (10, 5), (100, 1)], gap=0) == [(0, 15), (100, 101)]
    assert coalesce([(100, 1), (0, 10)], gap=90) == [(0, 101)]
    assert coalesce([(0, 10), (10, 10), (20, 10)], gap=0, limit=20) == [(0, 20), (20, 30)]
    assert coalesce([(0, 50)], limit=20) == [(0, 50)]  # one range is never split
    assert coalesce([(0, 10), (5, 10)], gap=0, limit=12) == [(0, 10), (10, 15)]
    assert coalesce([(0, 0), (3, 0)]) == []


def test_is_url() -> None:
    assert is_url("s3://b/k") and is_url("gs://b/k") and is_url("https://h/p")
    assert is_url("memory://x")
    assert not is_url("/tmp/x") and not is_url("file:///tmp/x") and not is_url("C:\\x")


def _write(tmp_path: Path, n: int = 3) -> dict[str, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(0)
    tensors: dict[str, np.ndarray[Any, Any]] = {
        f"layer_{i}/kernel": rng.standard_normal((8, 4)).astype(np.float32) for i in range(n)
    }
    tensors["vocab"] = np.array([b"x", b"", b"zz\x00"], dtype=object)
    tfc.save(tmp_path / "run" / "ckpt-1", tensors)
    (tmp_path / "run" / "checkpoint").write_text('model_checkpoint_path: "ckpt-1"\n')
    return tensors


def _upload(mem: Any, local: Path, remote: str) -> None:
    for f in local.iterdir():
        mem.pipe(f"{remote}/{f.name}", f.read_bytes())


@pytest.fixture
def memfs(tmp_path: Path) -> Iterator[tuple[Any, dict[str, np.ndarray[Any, Any]]]]:
    tensors = _write(tmp_path)
    mem = fsspec.filesystem("memory")
    root = f"/tfckpt-test-{os.getpid()}-{id(tmp_path)}"
    _upload(mem, tmp_path / "run", root + "/run")
    yield mem, tensors, root  # type: ignore[misc]
    mem.rm(root, recursive=True)


@needs_fsspec
def test_memory_url_and_filesystem_object(memfs: Any) -> None:
    mem, tensors, root = memfs
    for how in ("prefix", "index", "dir", "data"):
        path = {
            "prefix": f"memory://{root}/run/ckpt-1",
            "index": f"memory://{root}/run/ckpt-1.index",
            "dir": f"memory://{root}/run",
            "data": f"memory://{root}/run/ckpt-1.data-00000-of-00001",
        }[how]
        with tfc.load_checkpoint(path) as r:
            assert sorted(r) == sorted(tensors), how
            for k, v in tensors.items():
                np.testing.assert_array_equal(r[k], v)
            assert r.verify() == len(tensors)
    got = tfc.load(f"{root}/run/ckpt-1", filesystem=mem)
    assert sorted(got) == sorted(tensors)
    for k, v in tensors.items():
        np.testing.assert_array_equal(got[k], v)
    assert tfc.list_variables(f"memory://{root}/run")[0] == ("layer_0/kernel", [8, 4])
    np.testing.assert_array_equal(
        tfc.load_variable(f"memory://{root}/run/ckpt-1", "layer_1/kernel:0"),
        tensors["layer_1/kernel"],
    )


@needs_fsspec
def test_memory_errors(memfs: Any) -> None:
    mem, _, root = memfs
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(f"memory://{root}/nothing/here")
    mem.pipe(f"{root}/model.pt", b"PK\x03\x04" + b"\0" * 60)
    with pytest.raises(tfc.NotACheckpointError, match=r"torch\.load"):
        tfc.load_checkpoint(f"memory://{root}/model.pt")
    # A truncated remote data file: the read fails with a CheckpointError naming the key.
    data = f"{root}/run/ckpt-1.data-00000-of-00001"
    mem.pipe(data, mem.cat_file(data)[:40])
    with (
        tfc.load_checkpoint(f"memory://{root}/run/ckpt-1") as r,
        pytest.raises(tfc.CorruptCheckpointError, match="layer_2/kernel"),
    ):
        r["layer_2/kernel"]
    with pytest.raises(tfc.CorruptCheckpointError):
        tfc.load(f"memory://{root}/run/ckpt-1")


@needs_fsspec
def test_cli_reads_urls(memfs: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from tfckpt_lite._cli import main

    _, _, root = memfs
    assert main(["ls", f"memory://{root}/run", "-q"]) == 0
    assert "layer_2/kernel" in capsys.readouterr().out


# -- HTTP with range requests ---------------------------------------------------------------


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.sent = 0
        self.requests: list[tuple[str, str, str | None]] = []
        self.lock = threading.Lock()
        # Misbehaviour on data-file GETs: "whole" ignores Range (200, the whole file),
        # "short" answers a ranged request with 100 bytes less than asked.
        self.misbehave: str | None = None


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _file(self) -> Path | None:
        p = (self.server.root / self.path.lstrip("/").split("?")[0]).resolve()
        if self.server.root.resolve() not in p.parents or not p.is_file():
            return None
        return p

    def _reply(self, head_only: bool) -> None:
        rng = self.headers.get("Range")
        with self.server.lock:
            self.server.requests.append((self.command, self.path, rng))
        p = self._file()
        if p is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = p.stat().st_size
        start, end = 0, size
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
        bad = self.server.misbehave if "data-" in self.path and not head_only else None
        if m and bad != "whole":
            start = int(m.group(1))
            end = min(int(m.group(2)) + 1, size) if m.group(2) else size
            if bad == "short":
                end -= 100
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        else:
            self.send_response(200)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if head_only:
            return
        with open(p, "rb") as f:
            f.seek(start)
            body = f.read(end - start)
        with self.server.lock:  # counted before sending: the client may assert on receipt
            self.server.sent += len(body)
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._reply(False)

    def do_HEAD(self) -> None:
        self._reply(True)


@pytest.fixture
def http_ckpt(tmp_path: Path) -> Iterator[tuple[_Server, str, int]]:
    """A 64 MiB checkpoint (sixteen 4 MiB tensors) served over loopback HTTP."""
    pytest.importorskip("aiohttp")
    with tfc.BundleWriter(tmp_path / "run" / "big") as w:
        for i in range(16):
            w.add(f"t{i:02d}", np.full((MiB,), i, np.float32))
    index_size = (tmp_path / "run" / "big.index").stat().st_size
    server = _Server(tmp_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}/run/big", index_size
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@needs_fsspec
def test_http_one_tensor_fetches_its_bytes_only(http_ckpt: tuple[_Server, str, int]) -> None:
    server, url, index_size = http_ckpt
    with tfc.load_checkpoint(url) as r:
        assert server.sent == index_size, server.requests  # opening: the index only
        assert len(r) == 16
        t = r["t07"]
        assert t.shape == (MiB,) and float(t[0]) == 7.0 and float(t[-1]) == 7.0
        # The tensor's 4 MiB and the index; HEAD requests carry no body.
        assert server.sent == index_size + 4 * MiB
        ranged = [q for q in server.requests if q[0] == "GET" and q[2]]
        assert ranged[-1][2] == f"bytes={7 * 4 * MiB}-{8 * 4 * MiB - 1}"
        # Unverified rows fetch only their own 40 bytes...
        rows = r.get_slice("t03", verify=False)[10:20]
        assert rows.tolist() == [3.0] * 10
        assert server.sent == index_size + 4 * MiB + 40
        # ...verified ones fetch the tensor once for its checksum, then only rows.
        s = r.get_slice("t04")
        assert s[10:20].tolist() == [4.0] * 10
        assert server.sent == index_size + 2 * 4 * MiB + 40 + 40
        assert s[30].tolist() == 4.0
        assert server.sent == index_size + 2 * 4 * MiB + 40 + 40 + 4


@needs_fsspec
def test_http_load_is_coalesced_and_complete(http_ckpt: tuple[_Server, str, int]) -> None:
    server, url, index_size = http_ckpt
    got = tfc.load(url)
    assert sorted(got) == [f"t{i:02d}" for i in range(16)]
    for i in range(16):
        assert float(got[f"t{i:02d}"][MiB // 2]) == i
    assert server.sent == index_size + 64 * MiB  # every byte exactly once
    data_gets = [q for q in server.requests if q[0] == "GET" and "data-" in q[1]]
    assert len(data_gets) == 64 * MiB // MAX_REQUEST  # in spans of MAX_REQUEST, in parallel


@needs_fsspec
def test_http_directory_and_data_file_urls(
    http_ckpt: tuple[_Server, str, int], tmp_path: Path
) -> None:
    server, url, index_size = http_ckpt
    (tmp_path / "run" / "checkpoint").write_text('model_checkpoint_path: "big"\n')
    for u in (url.rsplit("/", 1)[0], url + ".data-00000-of-00001", url + ".index"):
        server.sent = 0
        with tfc.load_checkpoint(u) as r:
            assert r.prefix.endswith("/run/big") and len(r) == 16
        # Resolving never downloads a data file: the state file and the index at most.
        assert server.sent <= index_size + 100, u


@needs_fsspec
def test_http_missing_and_corrupt(http_ckpt: tuple[_Server, str, int], tmp_path: Path) -> None:
    _, url, _ = http_ckpt
    with pytest.raises(tfc.CheckpointNotFoundError):
        tfc.load_checkpoint(url + "-nope")
    data = tmp_path / "run" / "big.data-00000-of-00001"
    with open(data, "r+b") as f:
        f.seek(5 * 4 * MiB + 100)
        f.write(b"\xff")
    with tfc.load_checkpoint(url) as r:
        assert float(r["t04"][0]) == 4.0
        with pytest.raises(tfc.ChecksumMismatchError, match="t05"):
            r["t05"]


@needs_fsspec
@pytest.mark.parametrize("misbehave", ["whole", "short"])
def test_http_answers_of_the_wrong_length_are_errors(
    http_ckpt: tuple[_Server, str, int], misbehave: str
) -> None:
    """A server that ignores the range, or sends less than asked, is reported: by `load()`
    (ranges read ahead, streamed into its buffers) and by a single read."""
    server, url, _ = http_ckpt
    with tfc.load_checkpoint(url) as r:
        server.misbehave = misbehave
        with pytest.raises(tfc.CorruptCheckpointError, match="asked the server for bytes"):
            r["t03"]
    with pytest.raises(tfc.CorruptCheckpointError, match="asked the server for bytes"):
        tfc.load(url)
    server.misbehave = None
    assert float(tfc.load(url)["t09"][5]) == 9.0


TESTDATA = Path(__file__).resolve().parents[1] / "testdata"


@pytest.mark.parametrize(
    "name",
    ["two_shards_v1saver", "sharded_policy", "partitioned", "savev2_strings", "keras3"],
)
@needs_fsspec
def test_remote_matches_local_on_tf_fixtures(name: str) -> None:
    """Checkpoints TF wrote (several shards, partitioned variables, strings) read remotely
    exactly as locally, through `load()`'s coalesced parallel path and key by key."""
    from .canonical import canonical_digest

    local_dir = TESTDATA / name
    if not local_dir.is_dir():
        pytest.skip(f"fixture {name} not present")
    mem = fsspec.filesystem("memory")
    root = f"/fixtures-{os.getpid()}/{name}"
    for f in local_dir.iterdir():
        if f.is_file():
            mem.pipe(f"{root}/{f.name}", f.read_bytes())
    try:
        index = next(f.name for f in local_dir.iterdir() if f.name.endswith(".index"))
        local = tfc.load(local_dir / index)
        remote = tfc.load(f"memory://{root}/{index}")
        assert sorted(remote) == sorted(local)
        for k in local:
            assert canonical_digest(remote[k]) == canonical_digest(local[k]), k
        with tfc.load_checkpoint(f"memory://{root}/{index}") as r:
            for k in local:
                if r.dtype(k) in ("variant", "resource"):
                    continue
                assert canonical_digest(r[k]) == canonical_digest(local[k]), k
    finally:
        mem.rm(f"/fixtures-{os.getpid()}", recursive=True)


# -- a URL is never taken for a local path ----------------------------------------------------


def _writers(url: str, tmp_path: Path) -> dict[str, Any]:
    """Every public way of writing a checkpoint or a file, each aimed at `url`."""
    from tfckpt_lite._cli import main
    from tfckpt_lite._state import update_checkpoint_state

    src = tmp_path / "src" / "ckpt-1"
    tfc.save(src, {"w": np.ones(3, np.float32)}, fsync=False)
    st = tmp_path / "src" / "m.safetensors"
    npz = tmp_path / "src" / "m.npz"
    tfc.to_safetensors(src, st)
    tfc.to_npz(src, npz)

    def writer() -> None:
        with tfc.BundleWriter(url) as w:
            w.add("w", np.ones(3, np.float32))

    def cli(*argv: str) -> None:
        code = main([*argv, "-q"])
        if code != 0:
            raise ValueError(f"exit status {code}")

    return {
        "save": lambda: tfc.save(url, {"w": np.ones(3, np.float32)}),
        "BundleWriter": writer,
        "Checkpoint.save": lambda: tfc.Checkpoint(w=np.ones(3, np.float32)).save(url),
        "Checkpoint.write": lambda: tfc.Checkpoint(w=np.ones(3, np.float32)).write(url),
        "CheckpointManager": lambda: tfc.CheckpointManager(
            tfc.Checkpoint(w=np.ones(3)), url, max_to_keep=5
        ).save(),
        "update_checkpoint_state": lambda: update_checkpoint_state(url, url + "/ckpt-1"),
        "to_safetensors": lambda: tfc.to_safetensors(src, url + ".safetensors"),
        "to_npz": lambda: tfc.to_npz(src, url + ".npz"),
        "from_safetensors": lambda: tfc.from_safetensors(st, url),
        "from_npz": lambda: tfc.from_npz(npz, url),
        "edit": lambda: tfc.edit(src, url, strip=True),
        "cli convert to file": lambda: cli("convert", str(src), url + ".safetensors"),
        "cli convert to checkpoint": lambda: cli("convert", str(st), url),
        "cli strip": lambda: cli("strip", str(src), url),
        "cli dump --npy": lambda: cli("dump", str(src), "w", "--npy", url + ".npy"),
    }


@pytest.mark.parametrize("url", ["https://127.0.0.1:9/run/ckpt", "nosuchstore://bucket/run/ckpt"])
@needs_fsspec
def test_writers_refuse_urls_they_cannot_write(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before, `save("s3://b/run/ckpt")` wrote a local folder `s3:/b/run/ckpt`. Now a URL
    goes to its store (test_remote_stores) or, like these, is refused naming the URL; no
    writer ever creates anything local for it."""
    writers = _writers(url, tmp_path)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    for name, write in writers.items():
        with pytest.raises(ValueError) as err:
            write()
        message = str(err.value) + capsys.readouterr().err
        assert "cannot write to" in message and url.split("/")[0] in message, (name, message)
        assert os.listdir(work) == [], name


@needs_fsspec
def test_readers_name_a_url_no_installed_store_serves() -> None:
    url = "nosuchstore://bucket/run/ckpt"
    readers: dict[str, Callable[[], object]] = {
        "load": lambda: tfc.load(url),
        "load_checkpoint": lambda: tfc.load_checkpoint(url),
        "list_variables": lambda: tfc.list_variables(url),
        "latest_checkpoint": lambda: tfc.latest_checkpoint(url),
        "saved_model_info": lambda: tfc.saved_model_info(url),
    }
    for name, read in readers.items():
        with pytest.raises(ValueError, match=f"cannot read '{url}': Protocol not known") as e:
            read()
        assert e.type is ValueError, name


@needs_fsspec
def test_a_store_whose_package_is_missing_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['s3fs'] = None\n"  # as if s3fs were not installed
        "import tfckpt_lite as tfc\n"
        "for f in (tfc.load, lambda u: tfc.save(u, {})):\n"
        "    try:\n        f('s3://bucket/run/ckpt')\n"
        "    except ImportError as e:\n        print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert len(out) == 2, out
    for line, to in zip(out, ("read", "write to")):
        assert line.startswith(
            f"cannot {to} 's3://bucket/run/ckpt' (pip install 'tfckpt-lite[s3]'): "
        )


@needs_fsspec
def test_writers_write_fsspec_stores(tmp_path: Path) -> None:
    """Any fsspec store that takes writes is written through the same `Destination`."""
    mem = fsspec.filesystem("memory")
    root = f"memory://tfckpt-writes-{os.getpid()}-{id(tmp_path)}"
    try:
        for name, write in _writers(f"{root}/run/ckpt", tmp_path).items():
            if name.startswith("cli dump"):
                continue  # no tensor named by that prefix
            write()
        # (the manager and the state file used the same URL as a directory)
        assert tfc.load(f"{root}/run/ckpt.index")["w"].tolist() == [1.0, 1.0, 1.0]
        assert tfc.latest_checkpoint(f"{root}/run/ckpt") == f"{root}/run/ckpt/ckpt-1"
        assert mem.exists(f"{root}/run/ckpt.safetensors") and mem.exists(f"{root}/run/ckpt.npz")
    finally:
        mem.rm(root.split("://")[1], recursive=True)


@needs_fsspec
def test_tf_train_file_functions_on_a_store(tmp_path: Path) -> None:
    """`checkpoint_exists`, `get_checkpoint_mtimes` and `remove_checkpoint` act on the store
    a URL names (S3 and GCS: test_remote_stores.py), never on a local path made of it."""
    import time

    from tfckpt_lite import train

    root = f"memory://tfckpt-train-{os.getpid()}-{tmp_path.name}"
    url = f"{root}/run/ckpt-1"
    tfc.save(url, {"w": np.ones(2, np.float32)})
    assert train.checkpoint_exists(url) and train.checkpoint_exists(f"{root}/run/ckpt-*")
    assert not train.checkpoint_exists(f"{root}/run/ckpt-2")
    (mtime,) = train.get_checkpoint_mtimes([url, f"{root}/run/ckpt-2"])
    assert abs(mtime - time.time()) < 60
    train.remove_checkpoint(url)
    assert not train.checkpoint_exists(url)
    assert fsspec.filesystem("memory").find(root) == []
    with pytest.raises(ValueError, match="cannot read 'nosuchstore://b/ck'"):
        train.checkpoint_exists("nosuchstore://b/ck")


@needs_fsspec
def test_an_edit_never_overwrites_its_source_in_a_store(tmp_path: Path) -> None:
    """The source named by its URL, or opened through a filesystem object under the store's
    bare key: either way the same checkpoint as the URL `dst`."""
    root = f"tfckpt-edit-{os.getpid()}-{tmp_path.name}"
    url = f"memory://{root}/run/ckpt"
    mem = fsspec.filesystem("memory")
    try:
        tfc.save(url, {"w": np.ones(2, np.float32)})
        for src in (url, tfc.load_checkpoint(f"/{root}/run/ckpt", filesystem=mem)):
            with pytest.raises(ValueError, match="is the source checkpoint"):
                tfc.edit(src, url, strip=True)
        tfc.edit(url, f"{url}-2", strip=True)
        assert tfc.load(f"{url}-2")["w"].tolist() == [1.0, 1.0]
    finally:
        mem.rm(f"/{root}", recursive=True)
