"""Debian's nginx as a TLS-terminating, token-checking proxy, for tests (loopback only).

    with NginxProxy(upstream="127.0.0.1:8501", cert=..., key=..., token="s3cret") as proxy:
        proxy.url   # https://127.0.0.1:<port>

Requests without ``Authorization: Bearer <token>`` get nginx's 401. Skips the
test when nginx is missing, unless MODEL_PKG_REQUIRE_NGINX=1 (CI), then fails.
"""

import os
import shutil
import socket
import subprocess
import time

import pytest

_CONF = """
worker_processes 1;
{user}
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    client_max_body_size 64m;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        location / {{
            if ($http_authorization != "Bearer {token}") {{ return 401; }}
            proxy_pass http://{upstream};
        }}
    }}
}}
"""


def nginx_binary():
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                      else None)
    if not found:
        if os.environ.get("MODEL_PKG_REQUIRE_NGINX") == "1":
            pytest.fail("nginx is required here (apt-get install nginx-light)")
        pytest.skip("nginx not found (apt-get install nginx-light)")
    return found


class NginxProxy:
    def __init__(self, upstream, cert, key, token, prefix):
        self.binary, self.prefix = nginx_binary(), str(prefix)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        conf = os.path.join(self.prefix, "nginx.conf")
        with open(conf, "w") as handle:
            handle.write(_CONF.format(prefix=self.prefix, port=self.port, cert=cert, key=key,
                                      token=token, upstream=upstream,
                                      user="user root;" if os.geteuid() == 0 else ""))
        self.proc = subprocess.Popen([self.binary, "-c", conf, "-p", self.prefix,
                                      "-g", "daemon off;"], stderr=subprocess.PIPE)
        self.url = f"https://127.0.0.1:{self.port}"
        self._wait()

    def _wait(self):
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"nginx exited: {self.proc.stderr.read().decode()[-2000:]}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        pytest.fail("nginx did not listen within 20 s")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
