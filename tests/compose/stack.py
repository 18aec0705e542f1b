"""The shipped compose project, driven through the real `docker compose` CLI on a copy of
the checkout (a fresh clone's files: tracked and untracked-not-ignored), with its own
project name so nothing a user runs is touched. Part of `make compose-test`."""

import json
import os
import shutil
import subprocess
import tempfile
import time

PROJECT = "model-pkg-compose-test"


def run(cmd, cwd=None, env=None, check=True, timeout=900):
    """Runs ``cmd`` (a list); returns CompletedProcess with text output."""
    done = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {done.returncode}:\n"
                           f"{done.stdout[-3000:]}{done.stderr[-3000:]}")
    if done.stderr.strip() and done.returncode != 0:
        print(done.stderr[-2000:])
    return done


def fresh_copy(checkout):
    """A folder holding what `git clone` of the checkout (with its uncommitted files) holds."""
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=checkout).stdout
    dest = tempfile.mkdtemp(prefix="compose-test-")
    for rel in filter(None, files.split("\0")):
        src = os.path.join(checkout, rel)
        if os.path.isfile(src):
            os.makedirs(os.path.dirname(os.path.join(dest, rel)), exist_ok=True)
            shutil.copy2(src, os.path.join(dest, rel))
    return dest


class Stack:
    """``docker compose`` in ``folder`` with ``env`` (image variables and the like)."""

    def __init__(self, folder, env, files=("docker-compose.yml",)):
        self.folder, self.files = folder, list(files)
        self.env = dict(os.environ, COMPOSE_PROJECT_NAME=PROJECT, **env)

    def compose(self, *args, check=True, timeout=900, env=None):
        cmd = ["docker", "compose"]
        for name in self.files:
            cmd += ["-f", name]
        return run(cmd + list(args), cwd=self.folder, env=dict(self.env, **(env or {})),
                   check=check, timeout=timeout)

    def popen(self, cmd, env=None):
        """A long-running command (make serve, compose up attached): output to a file."""
        log = tempfile.NamedTemporaryFile("w+", prefix="compose-test-", suffix=".log",
                                          delete=False)
        proc = subprocess.Popen(cmd, cwd=self.folder, env=dict(self.env, **(env or {})),
                                stdout=log, stderr=subprocess.STDOUT, text=True)
        proc.log_path = log.name
        return proc

    def containers(self, service=None):
        """Container ids of ``service`` (or the project), stopped ones included."""
        args = ["ps", "-q", "-a"] + ([service] if service else [])
        return self.compose(*args, check=False).stdout.split()

    def health(self, container):
        out = run(["docker", "inspect", "--format", "{{json .State}}", container],
                  check=False).stdout
        state = json.loads(out) if out.strip() else {}
        if state.get("Status") != "running":   # a stopped container keeps its last health
            return state.get("Status", "gone")
        return (state.get("Health") or {}).get("Status") or "running"

    def wait_healthy(self, service, count=1, timeout=600, proc=None):
        """Seconds until ``count`` containers of ``service`` are healthy; raises otherwise."""
        began = time.time()
        while time.time() - began < timeout:
            ids = self.containers(service)
            states = [self.health(c) for c in ids]
            if len(ids) >= count and states.count("healthy") >= count:
                return time.time() - began
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{service}: the command ended ({proc.returncode}) before "
                                   f"healthy:\n{tail(proc)}")
            time.sleep(2)
        raise RuntimeError(f"{service}: not healthy within {timeout} s ({states})")

    def logs(self, service):
        return self.compose("logs", "--no-color", service, check=False).stdout[-3000:]

    def down(self):
        """docker compose down for every profile; then checks that nothing is left."""
        self.compose("--profile", "scale", "--profile", "train", "--profile", "gpu",
                     "down", "--volumes", "--remove-orphans", "--timeout", "20", check=False)
        return leftovers()


def wait_until(check, seconds, what):
    """Seconds until ``check()`` is true (an exception counts as not yet); else fails."""
    began = time.time()
    while time.time() - began < seconds:
        try:
            if check():
                return time.time() - began
        except Exception:  # noqa: BLE001 - e.g. a label the server does not know yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"{what}: not seen within {seconds} s")


def leftovers():
    """Containers, networks and volumes of the test project still on the engine."""
    label = f"label=com.docker.compose.project={PROJECT}"
    found = []
    for kind in ("ps -a", "network ls", "volume ls"):
        out = run(["docker", *kind.split(), "-q", "--filter", label], check=False).stdout
        found += [f"{kind.split()[0]} {x}" for x in out.split()]
    return found


def tail(proc, lines=40):
    with open(proc.log_path) as handle:
        return "".join(handle.readlines()[-lines:])


def output(proc):
    with open(proc.log_path) as handle:
        return handle.read()
