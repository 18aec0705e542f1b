"""TF Serving's command line, parsed as main.cc parses it, and the compose service that gives it.

A TEST FIXTURE's input layer: the stand-in starts from the shipped
docker-compose.yml service (its ``command`` flags and ``volumes``), so the
tests check the deployment users run, not a copy of it.
"""

import os
import re

import yaml

# Flags the stand-in emulates: name -> (type, default). Defaults are
# Server::Options' (model_servers/server.h); flags are defined in
# model_servers/main.cc, ``main``. A flag missing here is refused as
# NotEmulated, so shipping a new flag forces a conformance row first.
FLAGS = {
    "port": (int, 8500),
    "rest_api_port": (int, 0),                  # 0: REST off
    "rest_api_timeout_in_ms": (int, 30000),
    "model_config_file": (str, ""),
    "model_config_file_poll_wait_seconds": (int, 0),   # 0: read once, never polled
    "allow_version_labels_for_unavailable_models": (bool, False),
    "enable_batching": (bool, False),
    "batching_parameters_file": (str, ""),
    "monitoring_config_file": (str, ""),
    "file_system_poll_wait_seconds": (int, 1),
    "enable_model_warmup": (bool, True),
    "ssl_config_file": (str, ""),               # gRPC TLS (server.cc, BuildServerCredentials)
    # Server::Options (server.h): both default to 4 x NumSchedulableCPUs(), the host's
    # count whatever compose's `cpus:` says; docker-compose.yml sets both.
    "rest_api_num_threads": (int, 4 * (os.cpu_count() or 1)),
    "grpc_max_threads": (int, 4 * (os.cpu_count() or 1)),
}

# TensorFlow's command_line_flags.cc, ParseBoolFlag: these spellings, nothing else.
_BOOLS = {None: True, "true": True, "True": True, "1": True,
          "false": False, "False": False, "0": False}


class UsageError(ValueError):
    """tensorflow_model_server prints its usage and exits (main.cc: Flags::Parse failed)."""


class NotEmulated(ValueError):
    """A flag or compose feature the stand-in does not model: add a conformance row first."""


def parse_flags(argv, stray=None):
    """argv (without the program) -> {flag: value} with defaults, as tensorflow::Flags::Parse.

    Booleans take ``--f`` or ``=true``/``=True``/``=1``/``=false``/``=False``/``=0``
    (command_line_flags.cc, ``ParseBoolFlag``); another value makes main() print the
    usage and return -1. An argument that is no flag stays in argv: main.cc prints
    "unknown argument: ..." and starts anyway; such arguments are appended to ``stray``.
    """
    values = {name: default for name, (_, default) in FLAGS.items()}
    for arg in argv:
        match = re.fullmatch(r"--([A-Za-z0-9_]+)(?:=(.*))?", arg, re.DOTALL)
        if not match:
            if stray is not None:
                stray.append(arg)
            continue
        name, raw = match.group(1), match.group(2)
        if name not in FLAGS:
            raise NotEmulated(f"--{name}: TF Serving flag the stand-in does not emulate")
        kind = FLAGS[name][0]
        if kind is bool:
            if raw not in _BOOLS:
                raise UsageError(f"--{name}={raw}: Couldn't interpret value ={raw} for flag "
                                 f"{name}.")
            values[name] = _BOOLS[raw]
        elif raw is None:
            raise UsageError(f"--{name} needs a value")
        else:
            try:
                values[name] = kind(raw)
            except ValueError as err:
                raise UsageError(f"--{name}={raw}: {err}") from err
    return values


# ${VAR} or ${VAR:-default} whose default holds no ${: the innermost of nested forms.
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:(?!\$\{)[^}])*))?\}")


def interpolate(text, env):
    """Compose's ${VAR} and ${VAR:-default}, nested defaults too (the forms
    docker-compose.yml uses); ``$$`` is a literal ``$``, left for the shell."""
    def value(match):
        got = env.get(match.group(1))
        return got if got else (match.group(2) or "")
    text = text.replace("$$", "\0")
    while True:
        replaced = _VARIABLE.sub(value, text)
        if replaced == text:
            return replaced.replace("\0", "$$")
        text = replaced


def compose_service(compose_path, service, env=None):
    """{"image", "flags", "mounts": [(host, container, mode)], "healthcheck"} of ``service``.

    The service's ``<<:`` merge is resolved by YAML; relative host paths are
    taken from the compose file's folder, as compose does.
    """
    env = dict(os.environ if env is None else env)
    with open(compose_path) as handle:
        spec = yaml.safe_load(interpolate(handle.read(), env))["services"][service]
    if spec.get("entrypoint") != ["tensorflow_model_server"]:
        raise NotEmulated(f"{service}: only entrypoint [tensorflow_model_server] is emulated")
    base = os.path.dirname(os.path.abspath(compose_path))
    mounts = []
    for volume in spec.get("volumes", []):
        host, container, *mode = volume.split(":")
        mounts.append((os.path.normpath(os.path.join(base, host)), container,
                       mode[0] if mode else "rw"))
    return {"image": spec["image"], "flags": list(spec["command"]), "mounts": mounts,
            "healthcheck": spec.get("healthcheck", {}).get("test")}


class MountedFile:
    """A path inside the container, read the way the bind mount shows it.

    Under a folder mount every read opens the host path anew, so a file
    replaced by rename is seen (TF Serving re-opens the config file on each
    poll: util/proto_util.h, ``ParseProtoTextFile``). A single-file mount binds
    the inode the file had at start: this keeps that inode open and reads it,
    so a replacement is never seen (Linux bind mounts; moby#22627).
    """

    def __init__(self, mounts, container_path):
        self.container_path = container_path
        container, self.host_path = _resolve(mounts, container_path)
        self.single_file = container == container_path
        self._fd = os.open(self.host_path, os.O_RDONLY) if self.single_file else None

    def read_text(self):
        if self._fd is None:
            with open(self.host_path) as handle:
                return handle.read()
        return os.pread(self._fd, os.fstat(self._fd).st_size, 0).decode()

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def host_dir(mounts, container_path):
    """The host folder behind a container folder (for model base paths)."""
    return _resolve(mounts, container_path)[1]


def _resolve(mounts, container_path):
    """(mount's container path, host path) for ``container_path``: the longest mount wins."""
    hits = [(c, h) for h, c, _ in mounts
            if container_path == c or container_path.startswith(c.rstrip("/") + "/")]
    if not hits:
        raise FileNotFoundError(f"{container_path}: not under any mount of the service")
    container, host = max(hits, key=lambda hit: len(hit[0]))
    return container, host + container_path[len(container):]
