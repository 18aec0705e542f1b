"""TF Serving's config files: parse, check the rules TF Serving enforces, edit labels.

The files live in one folder (serving/config/), mounted whole at /config:
``model-pkg promote`` replaces models.config by a rename, which a folder
mount shows to the server's next poll and a single-file mount never does.

Label rules, from TF Serving's source (docs/tf_serving.md has the table):
``ServerCore::ReloadConfig`` checks labels before it loads anything, so labels
in the startup config need ``--allow_version_labels_for_unavailable_models``
(docker-compose.yml sets it). Moving an existing label on a later poll needs
the target version AVAILABLE, and a poll whose label check fails applies
nothing, the version list included. So a move is two edits: first add the
version to the ``specific`` policy and let TF Serving load it (step 1), then
point the label at it (step 2).
"""

import contextlib
import fcntl
import os
import re

from google.protobuf import text_format

from model_pkg import contract
from model_pkg.fileio import atomic_write_text
from model_pkg.serving import protos

# The shipped config folder (package data; serving/config/ in a checkout).
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config")
MODELS_CONFIG = os.path.join(CONFIG_DIR, "models.config")
MONITORING_CONFIG = os.path.join(CONFIG_DIR, "monitoring.config")
# Labels: ASCII letters, digits, '-' and '_'. TF Serving's REST API takes a label
# from the URL path (``/labels/([^/:]+)``, then percent-decoded: http_rest_api_util.cc,
# ParseModelInfo), so a label with '/', ':' or '?' cannot be addressed there as
# written, and one with '../' changes the path. str.isalnum would let Unicode
# letters in. One rule for models.config and the clients.
_LABEL = re.compile(r"[A-Za-z0-9_-]+")
_HEADER = ("# TF Serving model config (text ModelServerConfig). Edited by model-pkg "
           "promote/rollback;\n# a label may only move to a version TF Serving has loaded.\n")


class ConfigError(ValueError):
    """A config file TF Serving would reject, or an edit it would refuse."""


def check_label(label, what="--label"):
    """Returns ``label`` if it follows the label rule; raises ConfigError naming it."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise ConfigError(f"{what} {label!r}: a version label must be ASCII letters, digits, "
                          "'-' or '_' (at least one)")
    return label


def check_version(version, what="--version"):
    """Returns ``version`` if it is an int >= 1; bool (an int in Python) is refused."""
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ConfigError(f"{what} {version!r}: must be an integer >= 1")
    return version


def deployment_config_dir():
    """The config folder a deployment mounts: $MODEL_PKG_SERVING_CONFIG_DIR, else
    serving/config under the working directory (a checkout's, or a copy of it).

    An installed package's own copy is a template, never edited in place.
    """
    from model_pkg.paths import home

    folder = os.environ.get("MODEL_PKG_SERVING_CONFIG_DIR") or os.path.join(
        home(), "serving", "config")
    if not os.path.isfile(os.path.join(folder, "models.config")):
        raise ConfigError(f"{folder}: no models.config. Run from the folder whose "
                          "serving/config/ docker compose mounts, set "
                          "MODEL_PKG_SERVING_CONFIG_DIR, or pass --config / --config-dir "
                          f"(the shipped template is {CONFIG_DIR})")
    return folder


def parse(path, message_class):
    try:
        with open(path) as handle:
            return text_format.Parse(handle.read(), message_class())
    except (OSError, text_format.ParseError) as err:
        raise ConfigError(f"{path}: {err}") from err


def load_models_config(path=MODELS_CONFIG):
    """(ModelServerConfig, the cgan ModelConfig) after TF Serving's checks."""
    config = parse(path, protos.model_server_config())
    models = [m for m in config.model_config_list.config if m.name == contract.MODEL_NAME]
    if len(models) != 1:
        raise ConfigError(f"{path}: needs exactly one model named {contract.MODEL_NAME!r}")
    model = models[0]
    if model.model_platform != "tensorflow" or not model.base_path:
        raise ConfigError(f"{path}: model {model.name} needs model_platform 'tensorflow' "
                          "and a base_path")
    served = set(model.model_version_policy.specific.versions)
    for label, version in model.version_labels.items():
        check_label(label, f"{path}: label")
        if version not in served:
            raise ConfigError(f"{path}: label {label!r} -> {version} names a version outside "
                              f"the served versions {sorted(served)}; TF Serving refuses it")
    return config, model


def load_monitoring_config(path=MONITORING_CONFIG):
    config = parse(path, protos.monitoring_config())
    if not config.prometheus_config.enable or not config.prometheus_config.path.startswith("/"):
        raise ConfigError(f"{path}: prometheus_config must be enabled with an absolute path")
    return config


def _write(path, config):
    text = _HEADER + text_format.MessageToString(config)
    # Parse what we are about to write: never leave TF Serving a file it rejects.
    text_format.Parse(text, protos.model_server_config()())
    atomic_write_text(path, text)


@contextlib.contextmanager
def _locked(path):
    """Holds an exclusive flock on ``.<name>.lock`` beside ``path`` (read, change, write).

    Without it two promotes read the same file and the second rename drops the
    first one's version. The lock file, not models.config, is locked: the rename
    replaces models.config's inode, so a lock on it would guard nothing.
    """
    folder, name = os.path.split(os.path.abspath(path))
    lock = os.path.join(folder, f".{name}.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except OSError as err:
        raise ConfigError(f"{lock}: cannot open the lock file beside {name} ({err})") from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)   # waits: edits queue, none is lost
        yield
    finally:
        os.close(fd)


def promote(label, version, path=MODELS_CONFIG, loaded_versions=None):
    """Moves ``label`` to ``version`` the way TF Serving allows; returns what happened.

    Step 1 (version not served yet): adds it to the specific policy, label unchanged.
    Step 2 (version served): points the label at it. ``loaded_versions``, when
    known (from the server's status), must contain the version for step 2.
    Concurrent promotes and rollbacks of one file are serialised by a lock.
    """
    check_label(label)
    check_version(version)
    with _locked(path):
        config, model = load_models_config(path)
        served = model.model_version_policy.specific.versions
        if version not in served:
            served.append(version)
            served.sort()
            _write(path, config)
            return (f"step 1 of 2: version {version} added to the served versions; once TF "
                    f"Serving reports it AVAILABLE, run the same command again to move "
                    f"{label!r}")
        if loaded_versions is not None and version not in loaded_versions:
            raise ConfigError(f"version {version} is not loaded yet (loaded: "
                              f"{sorted(loaded_versions)}); TF Serving would refuse the label")
        previous = model.version_labels.get(label)
        model.version_labels[label] = version
        _write(path, config)
    return f"{label!r}: {previous} -> {version}"


def rollback(label, path=MODELS_CONFIG):
    """Points ``label`` at the highest served version below its current one."""
    check_label(label)
    with _locked(path):
        config, model = load_models_config(path)
        if label not in model.version_labels:
            raise ConfigError(f"--label {label!r}: no such label in {path}")
        current = model.version_labels[label]
        older = [v for v in model.model_version_policy.specific.versions if v < current]
        if not older:
            raise ConfigError(f"{label!r} is at {current}; no older served version to roll "
                              "back to")
        model.version_labels[label] = max(older)
        _write(path, config)
    return f"{label!r}: {current} -> {max(older)}"
