"""What the compose stack on a real Docker engine showed (issue 24), held here without one:
each test reads the shipped files (or runs their shell) the way the engine does."""

import http.server
import os
import re
import subprocess
import threading

import pytest
import yaml

from model_pkg.train import _ProgressLines
from tests.ports import free_ports
from tests.serving.standin.flags import interpolate

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _read(*parts):
    with open(os.path.join(ROOT, *parts)) as handle:
        return handle.read()


def _services(env=None):
    return yaml.safe_load(interpolate(_read("docker-compose.yml"), env or {}))["services"]


def test_the_not_writable_message_gives_a_command_that_works_for_any_user():
    """$$(id -u) inside the echo's double quotes was expanded by the container's shell:
    root was told HOST_UID=1000 ..., which fails again. The advice must stay literal."""
    script = _services()["pipeline"]["command"][2].replace("$$", "$")
    script = script.replace("/app/artifacts", "/nonexistent/artifacts")   # never writable
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"not writable by uid {os.getuid()}" in done.stderr
    assert "HOST_UID=$(id -u) HOST_GID=$(id -g) docker compose up serving" in done.stderr


def test_make_serve_shows_the_pipeline_and_training_prints_lines_for_logs(capsys):
    """`docker compose up serving` attaches to serving only: make serve attaches the pipeline
    too, and --no-progress (the pipeline service's) prints lines a log can show."""
    serve = re.search(r"^serve:.*?\n\n", _read("Makefile"), re.S | re.M).group(0)
    assert "docker compose up --attach-dependencies serving" in serve
    lines = _ProgressLines(total=100, start=0)
    lines.maybe_print(50, {"step": 50, "d_loss": 0.5, "g_loss": 1.25, "checkpoint": "none"})
    lines.maybe_print(100, {"step": 100, "d_loss": 0.5, "g_loss": 1.25})
    out = capsys.readouterr().out
    assert "train: step 50/" not in out            # within LINE_EVERY_S of the start
    assert re.search(r"train: step 100/100 \(100%\) d_loss=0\.500 g_loss=1\.250 [\d.]+ steps/s",
                     out), out


@pytest.mark.parametrize("path", [("docker-compose.yml",), ("deploy", "compose", "nginx.conf"),
                                  ("docs", "scale_out.md")])
def test_the_documented_balancer_reload_is_one_that_works(path):
    """`nginx -s reload` in the container reads the image's default config and pid file."""
    text = " ".join(_read(*path).replace("#", " ").split())
    for command in re.findall(r"exec balancer nginx[^`\n]*", text):
        assert "-c /config/nginx.conf" in command, command
    assert "docker compose kill -s HUP balancer" in text


def test_the_healthcheck_gives_slow_starts_time():
    """Three replicas loading on two cores took longer than 30 s + 3 x 10 s once."""
    check = _services()["serving-replica"]["healthcheck"]
    seconds = int(check["start_period"].rstrip("s"))
    assert seconds >= 120


class _Status(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_GET(self):   # noqa: N802 - http.server's naming
        self.send_response(200)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


def _probe(command, body):
    """Runs a bash healthcheck against a local server answering ``body``: its exit code."""
    port = free_ports(1)[0]
    handler = type("Handler", (_Status,), {"body": body})
    server = http.server.HTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.handle_request, daemon=True).start()
    try:
        script = command.replace("/dev/tcp/127.0.0.1/8501", f"/dev/tcp/127.0.0.1/{port}")
        return subprocess.run(["bash", "-c", script], timeout=30).returncode
    finally:
        server.server_close()


def _healthchecks():
    compose = _services()["serving"]["healthcheck"]["test"][-1]
    k8s = next(yaml.safe_load_all(_read("deploy", "k8s", "deployment.yaml")))
    probe = k8s["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["exec"]
    return {"compose": compose, "k8s": probe["command"][-1]}


@pytest.mark.parametrize("where", ["compose", "k8s"])
def test_the_healthcheck_passes_available_and_refuses_a_failed_version(where):
    command = _healthchecks()[where]
    available = b'{"model_version_status": [{"version": "1", "state": "AVAILABLE"}]}'
    failed = b'{"model_version_status": [{"version": "1", "state": "UNAVAILABLE"}]}'
    assert _probe(command, available) == 0
    assert _probe(command, failed) != 0


def test_tf_serving_thread_pools_are_fixed_and_fit_the_pids_limit():
    """server.h: REST and gRPC threads default to 4 x the host's CPUs, which `cpus:` does
    not lower; both are set, and the limit leaves room for TensorFlow's per-core pools."""
    spec = _services()["serving"]
    flags = dict(f.split("=", 1) for f in spec["command"] if "=" in f)
    fixed = int(flags["--rest_api_num_threads"]) + int(flags["--grpc_max_threads"])
    assert fixed <= 64 and int(spec["pids_limit"]) >= fixed + 2 * 256 + 64
    tls = yaml.safe_load(_read("docker-compose.tls.yml"))["services"]["serving"]["command"]
    assert "--rest_api_num_threads=${TF_SERVING_REST_THREADS:-16}" in tls
