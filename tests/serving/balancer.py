"""The shipped deploy/compose/nginx.conf run by Debian's nginx in front of stand-in processes.

The stand-ins are the TEST FIXTURE (tests/serving/standin), one process each, started
from docker-compose.yml's ``serving-replica`` service; they are not TF Serving.
``localize`` is the only change made to the shipped config, and it changes exactly:

- ``listen 8500 http2;`` / ``listen 8501;`` -> ``listen 127.0.0.1:<free port> ...;``
- each upstream's one ``server serving-replica:<port> <params>;`` line -> one line per
  backend, ``server 127.0.0.1:<backend port> <the same params>;``
- when the tests run as root, ``user root;`` first (workers would otherwise run as
  nobody and could not write the test's private prefix folder).

Everything else (timeouts, retries, passive health, keepalive, body size) is the file.
"""

import json
import os
import re
import selectors
import socket
import subprocess
import sys
import time

from tests.ports import free_ports
from tests.serving.nginx import nginx_binary

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED_CONF = os.path.join(ROOT, "deploy", "compose", "nginx.conf")
REPLICA_HOST = "serving-replica"


def _sub_once(pattern, replace, text):
    new, count = re.subn(pattern, replace, text, flags=re.M)
    if count != 1:
        raise ValueError(f"{pattern!r} matched {count} times in the shipped config, not once")
    return new


def localize(text, grpc_backends, rest_backends, grpc_port, rest_port, as_root=False):
    """The shipped config with loopback listeners and backends (see the module doc)."""
    text = _sub_once(r"^(\s*)listen 8500 http2;$",
                     rf"\g<1>listen 127.0.0.1:{grpc_port} http2;", text)
    text = _sub_once(r"^(\s*)listen 8501;$", rf"\g<1>listen 127.0.0.1:{rest_port};", text)
    for port, backends in (("8500", grpc_backends), ("8501", rest_backends)):
        match = re.search(rf"^(\s*)server {REPLICA_HOST}:{port}( [^;]*)?;$", text, flags=re.M)
        if match is None:
            raise ValueError(f"no 'server {REPLICA_HOST}:{port}' line in the shipped config")
        lines = [f"{match[1]}server {address}{match[2] or ''};" for address in backends]
        text = text.replace(match[0], "\n".join(lines))
    return ("user root;\n" + text) if as_root else text


def _wait_listening(port, proc, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited: {proc.stderr.read().decode()[-2000:]}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nginx did not listen on {port} within {seconds} s")


class Balancer:
    """Debian's nginx running the localized shipped config (loopback only)."""

    def __init__(self, replicas, prefix):
        self.prefix = str(prefix)
        self.grpc_port, self.rest_port = free_ports(2)
        text = localize(open(SHIPPED_CONF).read(),
                        [r.grpc_target for r in replicas],
                        [r.rest_url.replace("http://", "") for r in replicas],
                        self.grpc_port, self.rest_port, as_root=os.geteuid() == 0)
        self.conf = os.path.join(self.prefix, "nginx.conf")
        with open(self.conf, "w") as handle:
            handle.write(text)
        self.proc = subprocess.Popen(
            [nginx_binary(), "-p", self.prefix + "/", "-e", "stderr", "-c", self.conf,
             "-g", "daemon off;"], stderr=subprocess.PIPE)
        _wait_listening(self.grpc_port, self.proc)
        _wait_listening(self.rest_port, self.proc)
        self.rest_url = f"http://127.0.0.1:{self.rest_port}"
        self.grpc_target = f"127.0.0.1:{self.grpc_port}"

    def close(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=20)


class Replica:
    """One stand-in process (``python -m tests.serving.standin``); kill() is SIGKILL."""

    def __init__(self, models_dir, config_dir, service="serving-replica"):
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.serving.standin", "--service", service,
             "--env", f"MODELS_DIR={models_dir}", "--env", f"TF_SERVING_CONFIG_DIR={config_dir}"],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def ready(self, seconds=240):
        """Waits for the JSON line the process prints once it listens."""
        with selectors.DefaultSelector() as selector:
            selector.register(self.proc.stdout, selectors.EVENT_READ)
            if not selector.select(timeout=seconds):
                raise TimeoutError(f"stand-in {self.proc.pid} not ready within {seconds} s")
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"stand-in {self.proc.pid} exited ({self.proc.wait(5)})")
        info = json.loads(line)
        self.rest_url, self.grpc_target = info["rest_url"], info["grpc_target"]
        return self

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=20)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()   # the stand-in's signal to stop
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


def start_replicas(count, models_dir, config_dir):
    """``count`` stand-in processes started together (they load the model in parallel)."""
    replicas = [Replica(models_dir, config_dir) for _ in range(count)]
    try:
        return [replica.ready() for replica in replicas]
    except BaseException:
        for replica in replicas:
            replica.kill()
        raise


def ok_requests(rest_url):
    """Predicts answered OK, from the replica's Prometheus page (TF Serving's request_count)."""
    import urllib.request

    with urllib.request.urlopen(rest_url + "/monitoring/prometheus/metrics", timeout=10) as page:
        text = page.read().decode()
    found = re.search(r'request_count\{[^}]*status="OK"\} (\d+)', text)
    return int(found[1]) if found else 0
