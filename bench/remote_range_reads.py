"""Bytes and requests a remote read costs: a checkpoint of N x 4 MiB tensors served over
loopback HTTP (range requests), then open + one tensor, then `load()` of everything.

    python bench/remote_range_reads.py            # 1 GiB (256 tensors); needs fsspec, aiohttp
    python bench/remote_range_reads.py --tensors 16

Measured on the 2-core dev machine (1 GiB): open fetched 7,856 bytes (the index) in 6
metadata requests + 1 GET; one 4 MiB tensor fetched exactly 4,194,304 more bytes; `load()`
fetched 1 GiB + index in 33 data GETs (32 MiB coalesced spans, 8 in parallel), 2.4 s.
"""

from __future__ import annotations

import argparse
import http.server
import re
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

import tfckpt_lite as tfc


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.root = root
        self.sent = 0
        self.gets = 0
        self.lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(self, body: bool) -> None:
        p = self.server.root / self.path.lstrip("/")
        if not p.is_file():
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        size = p.stat().st_size
        m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range") or "")
        start, end = (int(m.group(1)), min(int(m.group(2) or size - 1) + 1, size)) if m else (
            0, size)  # fmt: skip
        self.send_response(206 if m else 200)
        if m:
            self.send_header("Content-Range", f"bytes {start}-{end - 1}/{size}")
        self.send_header("Content-Length", str(end - start))
        self.end_headers()
        if body:
            with open(p, "rb") as f:
                f.seek(start)
                data = f.read(end - start)
            self.wfile.write(data)
            with self.server.lock:
                self.server.sent += len(data)
                self.server.gets += 1

    def do_GET(self) -> None:
        self.reply(True)

    def do_HEAD(self) -> None:
        self.reply(False)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tensors", type=int, default=256, help="4 MiB tensors (256 = 1 GiB)")
    n = ap.parse_args().tensors
    with tempfile.TemporaryDirectory() as td:
        root = Path(td)
        zeros = np.zeros(1 << 20, np.float32)
        with tfc.BundleWriter(root / "big", fsync=False) as w:
            for i in range(n):
                w.add(f"t{i:04d}", zeros)
        server = Server(root)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}/big"
        with tfc.load_checkpoint(url) as r:
            print(f"open:         {server.sent:>12,} bytes  {server.gets} GETs")
            r[f"t{n // 2:04d}"]
            print(f"+ one tensor: {server.sent:>12,} bytes  {server.gets} GETs")
        server.sent = server.gets = 0
        t0 = time.perf_counter()
        tfc.load(url)
        dt = time.perf_counter() - t0
        print(f"load():       {server.sent:>12,} bytes  {server.gets} GETs  {dt:.2f} s")
        server.shutdown()


if __name__ == "__main__":
    main()
