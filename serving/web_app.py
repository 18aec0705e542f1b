"""``model-pkg web``: the browser page and one published version, on loopback.

The page (serving/web/) runs model.onnx in the browser with onnxruntime-web;
this server only hands out files, so no inference happens server-side. It
serves a fixed set of routes, never a directory listing:

  /, /index.html, /app.js, /noise.js, /onnx_meta.js, /page.css   the page (serving/web/)
  /ort/<file>        onnxruntime-web's dist files (npm ci in serving/web)
  /model.onnx        the version's ONNX file, the bytes checked against its manifest
  /model.int8.onnx   its int8 file (export/quantize.py), likewise, when the version has one
  /manifest.json     the version's manifest
"""

import hashlib
import http.server
import os
import re
import sys
import threading

from model_pkg import contract

# The page ships as package data beside this module (installed or not);
# onnxruntime-web comes from npm: `npm ci` in WEB_DIR, or $MODEL_PKG_ORT_DIST.
WEB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web")
ORT_DIST = os.environ.get("MODEL_PKG_ORT_DIST") or os.path.join(
    WEB_DIR, "node_modules", "onnxruntime-web", "dist")
PAGE_FILES = {"/": "index.html", "/index.html": "index.html", "/app.js": "app.js",
              "/noise.js": "noise.js", "/onnx_meta.js": "onnx_meta.js", "/page.css": "page.css"}
# What the page needs and nothing else: its own scripts, styles, model and
# onnxruntime-web files ('self'), WebAssembly compilation ('wasm-unsafe-eval'),
# and workers for the WASM threads ('self' blob:). No inline script or style,
# no other origin, no framing, no forms. docs/security.md; tested in Chromium.
CSP = ("default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self' blob:; "
       "connect-src 'self'; style-src 'self'; img-src 'self'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
# Every response, error pages included, carries these (docs/security.md). Cross-origin
# isolation lets onnxruntime-web use threads.
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Cross-Origin-Opener-Policy": "same-origin",
                    "Cross-Origin-Embedder-Policy": "require-corp"}
# A connection that sends nothing for this long is closed: each holds a thread.
IDLE_TIMEOUT_S = 30.0
# At most this many connections are served at once (a browser opens a handful);
# more get 503 at once: a client trickling bytes under the idle timeout can hold
# a thread, but not an unbounded number of them.
MAX_CONNECTIONS = 64
# Host names a request may carry (with the port): a page on another name reached
# through DNS rebinding would otherwise read this server as same-origin.
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
_ORT_NAME = re.compile(r"^/ort/([A-Za-z0-9_.-]+\.(?:js|mjs|wasm|map))$")
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript",
          ".mjs": "text/javascript",
          ".wasm": "application/wasm", ".map": "application/json", ".json": "application/json",
          ".onnx": "application/octet-stream"}


class WebError(RuntimeError):
    """The page cannot be served (missing npm packages, bad version folder)."""


def load_version(version_dir):
    """{route: bytes} of a verified version: /model.onnx, /manifest.json, and
    /model.int8.onnx when the version carries it; raises naming the problem."""
    from model_pkg.export.manifest import verify_version
    from model_pkg.export.quantize import INT8_NAME

    manifest = verify_version(version_dir)
    files = {}
    for name in (contract.ONNX_NAME, INT8_NAME):
        if name not in manifest["files"]:
            continue
        path = os.path.join(version_dir, name)
        with open(path, "rb") as handle:
            files["/" + name] = handle.read()
        # Re-hashed after reading: the bytes served are the bytes the manifest names.
        if hashlib.sha256(files["/" + name]).hexdigest() != manifest["files"][name]:
            raise WebError(f"{path}: changed after verification; not serving it")
    with open(os.path.join(version_dir, contract.MANIFEST_NAME), "rb") as handle:
        files["/manifest.json"] = handle.read()
    return files


def check_web_dir(web_dir=WEB_DIR):
    """Raises WebError unless the page and onnxruntime-web's files are present."""
    missing = [name for name in set(PAGE_FILES.values())
               if not os.path.isfile(os.path.join(web_dir, name))]
    if missing:
        raise WebError(f"{web_dir}: page files missing: {sorted(missing)}")
    if not os.path.isfile(os.path.join(ORT_DIST, "ort.wasm.min.js")):
        raise WebError(f"{ORT_DIST} is missing: run `make web-deps` in a checkout, or `npm ci` "
                       f"in {web_dir}, or point MODEL_PKG_ORT_DIST at onnxruntime-web's dist")


def _handler(files, hosts, idle_timeout_s):
    class Handler(http.server.BaseHTTPRequestHandler):
        timeout = idle_timeout_s   # socket timeout: an idle or trickling client is dropped

        def do_GET(self):  # noqa: N802 (the standard library's name)
            body = self._head()
            if body is not None:
                self.wfile.write(body)

        def do_HEAD(self):  # noqa: N802
            self._head()

        def _head(self):
            """Sends the status and headers; returns the body to send, or None."""
            if (self.headers.get("Host") or "").lower() not in hosts:
                self.send_error(421, "this server answers only to its own address "
                                f"({', '.join(sorted(hosts))})")
                return None
            path = self.path.split("?", 1)[0]
            body = files(path)
            if body is None:
                self.send_error(404, f"{path}: not one of this page's files")
                return None
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(os.path.splitext(path)[1] or ".html"))
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            return body

        def end_headers(self):
            # Here, not in _head: send_error (404, 421, 501, 400) ends its headers here too.
            for name, value in SECURITY_HEADERS.items():
                self.send_header(name, value)
            super().end_headers()

        def log_message(self, fmt, *args):   # quiet: tests and the CLI print what matters
            pass

    return Handler


class _Server(http.server.ThreadingHTTPServer):
    def __init__(self, address, handler, max_connections):
        super().__init__(address, handler)
        self.slots = threading.BoundedSemaphore(max_connections)

    def process_request(self, request, client_address):
        if not self.slots.acquire(blocking=False):
            _refuse_busy(request)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()

    def handle_error(self, request, client_address):
        # A client that goes away mid-response (a closed tab, a cancelled fetch) is
        # normal, not a server fault: no traceback for it. Anything else is a bug.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def _refuse_busy(request):
    """A 503 written without a thread; non-blocking, so a stalled client cannot stall
    the accept loop (the reply fits in any socket buffer)."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in SECURITY_HEADERS.items())
    reply = ("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n"
             "Retry-After: 1\r\n" + headers + "\r\n").encode()
    try:
        request.setblocking(False)
        request.sendall(reply)
    except OSError:
        pass


def _allowed_hosts(host, port):
    """Host header values accepted: the bound address and the loopback names, with port."""
    names = set(LOOPBACK_NAMES) | ({host} if host not in ("", "0.0.0.0", "::") else set())
    names = {f"[{n}]" if ":" in n and not n.startswith("[") else n for n in names}
    hosts = {f"{n.lower()}:{port}" for n in names}
    return hosts | ({n.lower() for n in names} if port == 80 else set())


def make_server(version_dir, port=8000, host="127.0.0.1"):
    """A ThreadingHTTPServer for the page and ``version_dir``; call serve_forever()."""
    check_web_dir()
    fixed = load_version(version_dir)

    def files(path):
        if path in fixed:
            return fixed[path]
        if path in PAGE_FILES:
            return _read(os.path.join(WEB_DIR, PAGE_FILES[path]))
        match = _ORT_NAME.match(path)
        return _read(os.path.join(ORT_DIST, match.group(1))) if match else None

    return serve_files(files, port=port, host=host)


def serve_files(files, port=8000, host="127.0.0.1", idle_timeout_s=None,
                max_connections=MAX_CONNECTIONS):
    """The server around ``files(path) -> bytes or None`` (make_server's, and the tests').

    Port 0 picks a free port; the Host check uses the port actually bound.
    """
    timeout = IDLE_TIMEOUT_S if idle_timeout_s is None else idle_timeout_s
    server = _Server((host, port), _handler(files, set(), timeout), max_connections)
    server.RequestHandlerClass = _handler(
        files, _allowed_hosts(host, server.server_address[1]), timeout)
    return server


def _read(path):
    if not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def start_in_thread(version_dir, port=0):
    """(server, url) with the server running in a daemon thread (tests, notebooks)."""
    server = make_server(version_dir, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"
