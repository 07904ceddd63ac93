"""What a remote read costs, and how close `load()` gets to the network's limit.

A checkpoint of N x 4 MiB float32 tensors is served over loopback HTTP by a server in a
separate process (range requests answered with sendfile, `--latency` seconds added before
every answer, requests and body bytes counted by the server). Then, in this process:

  1. open + one tensor: requests and bytes (the index only, then that tensor's range);
  2. `load()` of everything: requests, bytes, largest number of requests in flight at once,
     in a fresh process (`run`; `--same-process` times it in this one);
  3. the floor: the data file downloaded into memory as raw bytes with fsspec's `cat_file`,
     as many requests in flight as `load()` keeps (no decoding, no checksum, no copy into
     writable arrays): either one range per thread or ranges of `load()`'s request size; the
     faster of the two counts; also in a fresh process each (or `--same-process`);
  4. `tfckpt convert URL out.safetensors` in a subprocess: wall time and its peak RSS.

Rounds alternate floor and `load()` (`--repeat`); medians are reported, and the ratio
`throughput(load) / throughput(floor)` (target >= 0.80 with 20 ms of latency).

    python bench/remote_range_reads.py                  # 1 GiB, 20 ms per request, 3 rounds
    python bench/remote_range_reads.py --tensors 16 --latency 0 --repeat 1

Needs fsspec and aiohttp (the `remote` extra). Results: bench/README.md.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
MiB = 1 << 20


# -- the server (runs in its own process: `--serve DIR LATENCY`) -------------------------------


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, root: Path, latency: float) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.latency = latency
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.sent = self.requests = self.gets = self.in_flight = self.max_in_flight = 0


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _stats(self) -> None:
        s = self.server
        body = json.dumps(
            {
                "sent": s.sent,
                "requests": s.requests,
                "gets": s.gets,
                "max_in_flight": s.max_in_flight,
            }
        ).encode()
        if self.path == "/__reset__":
            with s.lock:
                s.reset()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def reply(self, body: bool) -> None:
        if self.path in ("/__stats__", "/__reset__"):
            self._stats()
            return
        s = self.server
        with s.lock:
            s.requests += 1
            s.gets += body
            s.in_flight += 1
            s.max_in_flight = max(s.max_in_flight, s.in_flight)
        try:
            if s.latency:
                time.sleep(s.latency)
            p = s.root / self.path.lstrip("/")
            if not p.is_file():
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            size = p.stat().st_size
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
            start, end = 0, size
            if m:
                start = int(m.group(1))
                end = min(int(m.group(2)) + 1, size) if m.group(2) else size
            self.send_response(206 if m else 200)
            if m:
                self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Length", str(end - start))
            self.end_headers()
            if body and end > start:
                with s.lock:  # counted before sending: the client reads stats on receipt
                    s.sent += end - start
                self.wfile.flush()
                with open(p, "rb") as f:
                    self.connection.sendfile(f, start, end - start)
        finally:
            with s.lock:
                s.in_flight -= 1

    def do_GET(self) -> None:
        self.reply(True)

    def do_HEAD(self) -> None:
        self.reply(False)


def serve(root: str, latency: float) -> None:
    server = Server(Path(root), latency)
    print(server.server_address[1], flush=True)
    server.serve_forever()


# -- the client ----------------------------------------------------------------------------


def stats(base: str, reset: bool = False) -> dict[str, int]:
    import urllib.request

    with urllib.request.urlopen(base + ("/__reset__" if reset else "/__stats__")) as r:
        out: dict[str, int] = json.loads(r.read())
        return out


def floor_download(url: str, size: int, parts: int, threads: int) -> float:
    """Seconds to fetch [0, size) of `url` as raw bytes: `parts` equal ranges, `threads` at a
    time (the same fsspec calls `load()` makes, minus decoding and checksums)."""
    from concurrent.futures import ThreadPoolExecutor

    import fsspec

    fs = fsspec.filesystem("http", skip_instance_cache=True)
    bounds = [size * i // parts for i in range(parts + 1)]

    def part(i: int) -> bytes:
        data: bytes = fs.cat_file(url, start=bounds[i], end=bounds[i + 1])
        return data

    t0 = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        got = list(pool.map(part, range(parts)))  # kept, as a download is: fresh memory
    dt = time.perf_counter() - t0
    assert sum(map(len, got)) == size
    return dt


def convert_rss(url: str, out: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of `tfckpt convert URL OUT` in a fresh process."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the (v)forking parent.
    code = (
        "import sys; from tfckpt_lite._cli import main; rc = main(sys.argv[1:]); "
        "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM')))"
        "; sys.exit(rc)"
    )
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-c", code, "convert", url, str(out), "-q"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    dt = time.perf_counter() - t0
    return dt, int(p.stdout.split()[-1]) * 1024


def line(label: str, s: dict[str, int], extra: str = "") -> None:
    print(
        f"{label:<14} {s['sent']:>13,} bytes  {s['requests']:>3} requests ({s['gets']} GET){extra}"
    )


def timed(what: str, url: str, size: int, parts: int, threads: int) -> float:
    """Seconds of one measured operation: the floor's download, or `load()`."""
    import tfckpt_lite as tfc

    t0 = time.perf_counter()
    if what == "floor":
        floor_download(url + ".data-00000-of-00001", size, parts, threads)
    else:
        got = tfc.load(url)
        assert len(got) == parts
        del got
    return time.perf_counter() - t0


def run(what: str, url: str, size: int, parts: int, threads: int, fresh: bool) -> float:
    """`timed` in a fresh process (`--child`), or in this one.

    Fresh processes by default, as a user's download or load runs: in one long-lived
    process, a repeated download lands in memory that the allocator kept from the round
    before, while `load()` hands the caller fresh memory every time, and on this VM
    first-touching 1 GiB of fresh pages costs about what the transfer does (bench/README.md).
    Imports happen before the timing in both cases.
    """
    if not fresh:
        return timed(what, url, size, parts, threads)
    cmd = [sys.executable, __file__, "--child", what, url, str(size), str(parts), str(threads)]
    p = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(p.stdout.split()[-1])


def measure(
    url: str, base: str, n: int, data_size: int, repeat: int, fresh: bool
) -> tuple[float, float]:
    """Median seconds of the floor and of `load()`, rounds alternating which goes first."""
    from tfckpt_lite import _remote

    parallel = _remote.MAX_WORKERS
    chunks = -(-data_size // _remote.MAX_REQUEST)
    floors: list[float] = []
    loads: list[float] = []
    for i in range(repeat):
        for what in ("floor", "load") if i % 2 == 0 else ("load", "floor"):
            stats(base, reset=True)
            if what == "floor":
                a = run("floor", url, data_size, parallel, parallel, fresh)
                b = run("floor", url, data_size, chunks, parallel, fresh)
                floors.append(min(a, b))
                print(f"floor:         {parallel} ranges {a:.2f} s, {chunks} ranges {b:.2f} s")
                continue
            loads.append(run("load", url, data_size, n, parallel, fresh))
            s = stats(base)
            line("load():", s, f", {s['max_in_flight']} at most in flight, {loads[-1]:.2f} s")
    f, ld = statistics.median(floors), statistics.median(loads)
    print(
        f"floor (raw bytes, {parallel} requests in flight): {f:.2f} s, "
        f"{data_size / MiB / f:,.0f} MiB/s  [{', '.join(f'{x:.2f}' for x in floors)}]"
    )
    print(
        f"load():  {ld:.2f} s, {data_size / MiB / ld:,.0f} MiB/s  "
        f"[{', '.join(f'{x:.2f}' for x in loads)}]"
    )
    return f, ld


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tensors", type=int, default=256, help="4 MiB tensors (256 = 1 GiB)")
    ap.add_argument("--latency", type=float, default=0.020, help="seconds added per request")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--same-process",
        action="store_true",
        help="time the floor and load() in this process, not each in a fresh one",
    )
    ap.add_argument("--serve", nargs=2, metavar=("DIR", "LATENCY"), help=argparse.SUPPRESS)
    ap.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args.serve[0], float(args.serve[1]))
        return
    sys.path.insert(0, str(REPO / "src"))
    if args.child:
        import fsspec.implementations.http  # noqa: F401  (imported outside the timing)

        import tfckpt_lite  # noqa: F401

        what, url, size, parts, threads = args.child
        print(timed(what, url, int(size), int(parts), int(threads)))
        return
    import tfckpt_lite as tfc

    n = args.tensors
    with tempfile.TemporaryDirectory() as td:
        root = Path(td)
        block = np.random.default_rng(0).standard_normal(MiB).astype(np.float32)
        with tfc.BundleWriter(root / "big", fsync=False) as w:
            for i in range(n):
                w.add(f"t{i:04d}", np.roll(block, i))
        data_size = (root / "big.data-00000-of-00001").stat().st_size
        cmd = [sys.executable, __file__, "--serve", td, str(args.latency)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            base = f"http://127.0.0.1:{proc.stdout.readline().strip()}"
            url = f"{base}/big"
            print(
                f"checkpoint: {n} x 4 MiB = {data_size / MiB:,.0f} MiB, "
                f"{args.latency * 1e3:.0f} ms added per request"
            )
            stats(base, reset=True)
            with tfc.load_checkpoint(url) as r:
                line("open:", stats(base))
                r[f"t{n // 2:04d}"]
                line("+ one tensor:", stats(base))
            f, ld = measure(url, base, n, data_size, args.repeat, not args.same_process)
            ratio = f / ld
            print(
                f"throughput of load() / floor: {ratio:.2f} "
                f"(target >= 0.80: {'met' if ratio >= 0.8 else 'NOT met'})"
            )
            dt, rss = convert_rss(url, root / "out.safetensors")
            print(
                f"tfckpt convert URL out.safetensors: {dt:.2f} s, peak RSS {rss / MiB:,.0f} "
                f"MiB for a {data_size / MiB:,.0f} MiB checkpoint"
            )
        finally:
            proc.terminate()
            proc.wait()


if __name__ == "__main__":
    main()
