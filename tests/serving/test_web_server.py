"""model-pkg web's HTTP server under hostile clients: idle sockets, disconnects, error
pages, foreign Host headers. No browser or npm needed: the server is built around a
fixed set of files (web_app.serve_files), the same handler make_server uses."""

import http.client
import socket
import struct
import threading
import time

import pytest

from model_pkg.serving import web_app

BIG = b"x" * (32 << 20)   # larger than any socket buffer: the write meets the reset
FILES = {"/": b"<!doctype html><title>page</title>", "/big.bin": BIG}
SECURITY_HEADERS = ("Content-Security-Policy", "X-Content-Type-Options",
                    "Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy")


@pytest.fixture
def server():
    server = web_app.serve_files(FILES.get, port=0, idle_timeout_s=1.0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def _request(server, method="GET", path="/", host=None):
    port = server.server_address[1]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.putrequest(method, path, skip_host=True)
    connection.putheader("Host", host if host is not None else f"127.0.0.1:{port}")
    connection.endheaders()
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_an_idle_connection_is_dropped_after_the_timeout(server):
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    began = time.perf_counter()
    assert sock.recv(1) == b""   # the server closed it: EOF, not a thread held forever
    assert time.perf_counter() - began < 5
    sock.close()


def test_a_half_sent_request_is_dropped_too(server):
    sock = socket.create_connection(server.server_address[:2], timeout=10)
    sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")   # never finished
    assert sock.recv(1024) == b""
    sock.close()


def test_a_client_that_disconnects_mid_download_logs_no_traceback(server, capfd):
    for _ in range(3):
        sock = socket.create_connection(server.server_address[:2], timeout=10)
        port = server.server_address[1]
        sock.sendall(f"GET /big.bin HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        sock.recv(1024)
        # RST instead of FIN: the server's next write fails at once.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(1.0)
    assert _request(server).status == 200   # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


@pytest.mark.parametrize("method, path, status", [("GET", "/nope", 404), ("GET", "/", 200),
                                                  ("POST", "/", 501), ("DELETE", "/", 501)])
def test_every_response_carries_the_security_headers(server, method, path, status):
    response = _request(server, method, path)
    assert response.status == status
    for header in SECURITY_HEADERS:
        assert response.headers[header], (status, header)
    assert response.headers["Content-Security-Policy"] == web_app.CSP
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1",
                                  "localhost.evil.example:{port}", "", "127.0.0.1:{port}x"])
def test_a_foreign_host_header_is_refused(server, host):
    response = _request(server, host=host.format(port=server.server_address[1]))
    assert response.status == 421
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}",
                                  "LOCALHOST:{port}"])
def test_the_loopback_names_with_the_port_are_accepted(server, host):
    assert _request(server, host=host.format(port=server.server_address[1])).status == 200


def test_connections_beyond_the_cap_get_503_and_the_server_recovers():
    server = web_app.serve_files(FILES.get, port=0, idle_timeout_s=5.0, max_connections=3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        idle = [socket.create_connection(server.server_address[:2], timeout=10)
                for _ in range(3)]
        extra = socket.create_connection(server.server_address[:2], timeout=10)
        reply = extra.recv(4096)
        assert reply.startswith(b"HTTP/1.1 503") and b"nosniff" in reply
        extra.close()
        for sock in idle:
            sock.close()
        time.sleep(0.5)   # their threads see EOF and give their places back
        assert _request(server).status == 200
    finally:
        server.shutdown()
        server.server_close()
