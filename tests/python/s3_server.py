"""A real S3 server on loopback for the tests, and a fault-injecting proxy in front of it.

The server is moto's (``moto[server]``): a real HTTP S3 endpoint, started by
the tests on 127.0.0.1 and a free port. The proxy forwards every request to
it unchanged, and on request answers for the server what a real one answers
when things go wrong: 403 AccessDenied for a key, 503 SlowDown a number of
times, the object deleted on the server just before its GET, or the endpoint
gone (connections closed, then refused) after a number of object reads or
listing pages. It counts the requests it saw, so tests can assert how many
reads a run made.
"""

from __future__ import annotations

import hashlib
import http.client
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

import cv2
import numpy as np
import pytest

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_EC2_METADATA_DISABLED": "true", "AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "3"}


class S3Server:
    def __init__(self):
        from moto.server import ThreadedMotoServer

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self.port = port

    def env(self, endpoint: str | None = None) -> dict:
        """The standard AWS variables a client of this server needs: nothing of ours."""
        return dict(CREDENTIALS, AWS_ENDPOINT_URL=endpoint or self.endpoint)

    def client(self):
        import boto3

        return boto3.session.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1",
        ).client("s3", endpoint_url=self.endpoint)

    def stop(self):
        self._server.stop()


@pytest.fixture(scope="session")
def s3_server():
    server = S3Server()
    yield server
    server.stop()


_buckets = Counter()


@pytest.fixture
def bucket(s3_server, request):
    """A new, empty bucket for one test (S3 names: 3-63 lower-case characters)."""
    base = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    _buckets[base] += 1
    name = f"{base}-{_buckets[base]}"
    s3_server.client().create_bucket(Bucket=name)
    return name


def jpeg_bytes(image: np.ndarray, quality: int = 90) -> bytes:
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return encoded.tobytes()


def distinct_jpegs(photos: dict, n: int, size: int = 240) -> list[bytes]:
    """``n`` distinct small JPEGs cut from the real photographs."""
    names = sorted(photos)
    out = []
    for i in range(n):
        img = photos[names[i % len(names)]]
        h, w = img.shape[:2]
        y, x = (i * 37) % (h // 3), (i * 53) % (w // 3)
        crop = img[y:y + h // 2, x:x + w // 2]
        scale = size / max(crop.shape[:2])
        out.append(jpeg_bytes(cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA),
                              quality=80 + i % 15))
    assert len(set(out)) == n
    return out


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of the S3 server, with faults set per key."""

    def __init__(self, upstream: S3Server):
        self.upstream = urlsplit(upstream.endpoint)
        self._s3 = upstream
        self.deny: set[str] = set()                 # object keys answered 403 AccessDenied
        self.slow_down: dict[str, int] = {}         # key -> 503 SlowDown answers left (-1: always)
        self.delete_before_get: set[str] = set()    # deleted on the server right before their GET
        self.gone_after_gets: int | None = None     # the endpoint goes away after this many object GETs
        self.gone_after_lists: int | None = None    # ... or after this many listing pages
        self.gets: Counter = Counter()              # object GETs per key (answered or not)
        self.lists = 0
        self.gone = False
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                proxy._handle(self)

            do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
        is_object_get = h.command == "GET" and key and "list-type" not in parts.query
        is_list = h.command == "GET" and not key and "list-type" in parts.query
        with self._lock:
            if self.gone:
                return self._hang_up(h)
            if is_object_get:
                self.gets[key] += 1
                if self.gone_after_gets is not None and sum(self.gets.values()) > self.gone_after_gets:
                    return self._go_away(h)
            if is_list:
                self.lists += 1
                if self.gone_after_lists is not None and self.lists > self.gone_after_lists:
                    return self._go_away(h)
            fault = None
            if is_object_get and key in self.deny:
                fault = (403, "AccessDenied", "Access Denied")
            elif is_object_get and self.slow_down.get(key, 0) != 0:
                self.slow_down[key] -= self.slow_down[key] > 0
                fault = (503, "SlowDown", "Please reduce your request rate.")
            delete_first = is_object_get and key in self.delete_before_get
        if fault:
            return self._error(h, *fault, key)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        if delete_first:
            self._s3.client().delete_object(Bucket=bucket, Key=key)
        status, headers, data = self._forward(h.command, h.path, dict(h.headers), body)
        h.send_response(status)
        for name, value in headers:
            if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)

    def _forward(self, method, path, headers, body):
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            response = conn.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            conn.close()

    @staticmethod
    def _error(h, status, code, message, key):
        data = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
                f"<Key>{key}</Key><RequestId>proxy</RequestId></Error>").encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _go_away(self, h):
        self.gone = True
        threading.Thread(target=self.close, daemon=True).start()
        return self._hang_up(h)

    @staticmethod
    def _hang_up(h):
        h.close_connection = True   # no answer: the client sees the connection closed

    def close(self):
        self._server.shutdown()
        self._server.server_close()
