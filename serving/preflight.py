"""``model-pkg check-serving``: will TF Serving start on this config folder and models folder?

What TF Serving would do at startup, checked before it runs (docs/tf_serving.md):
the config files parse with its protos; every version the ``specific`` policy
names exists (a missing one is only a warning there, and if none exists the
server waits forever with its ports closed:
sources/storage_path/file_system_storage_path_source.cc,
``AspireSpecificVersions``); every label names a served version; and each
served version verifies its manifest, loads in TF Serving's own loader
(tensorflow::LoadSavedModel through the C API) and replays its warmup records
(a failing record fails the load: saved_model_warmup.cc, ``RunWarmupRequest``).
"""

import os
import posixpath

from model_pkg.export.manifest import verify_version
from model_pkg.export.tf_c_api import CApiRuntime, replay_warmup
from model_pkg.serving import config_files

# docker-compose.yml mounts the models folder here, inside the server's container.
CONTAINER_MODELS_DIR = "/models"


class PreflightError(RuntimeError):
    """TF Serving would not start, or would not serve what the config names."""


def served_versions(model, models_dir):
    """[(version, host folder)] the config serves, with base_path mapped to ``models_dir``."""
    root = os.path.join(models_dir, _relative_base_path(model.base_path))
    versions = list(model.model_version_policy.specific.versions)
    if not versions:
        raise PreflightError("models.config: the version policy must name `specific` versions "
                             "(labels and rollbacks refer to them)")
    missing = [v for v in versions if not os.path.isdir(os.path.join(root, str(v)))]
    if missing:
        raise PreflightError(f"models.config serves versions {missing} that are not in {root}; "
                             "TF Serving would wait for them (with none present, forever, ports "
                             "closed). Publish them or edit the config (`model-pkg rollback`)")
    return [(v, os.path.join(root, str(v))) for v in versions]


def _relative_base_path(base_path):
    """base_path below /models/, normalised; '..' is refused outright, not resolved: a
    prefix check on '/models/../x' passes while the path leaves the models folder."""
    prefix = CONTAINER_MODELS_DIR + "/"
    if ".." in base_path.split("/"):
        raise PreflightError(f"models.config: base_path {base_path!r} must not contain '..' "
                             f"(it must stay under {prefix}, where docker-compose.yml mounts "
                             "the models)")
    normal = posixpath.normpath(base_path)
    if normal == CONTAINER_MODELS_DIR:
        return ""
    if not normal.startswith(prefix):
        raise PreflightError(f"models.config: base_path {base_path!r} must be under "
                             f"{prefix} (where docker-compose.yml mounts the models)")
    return normal[len(prefix):]


def check_deployment(config_dir=config_files.CONFIG_DIR, models_dir=None, log=print):
    """Runs every check; returns {version: warmup records replayed}; raises PreflightError."""
    from model_pkg.paths import default_models_dir

    models_dir = models_dir or default_models_dir()
    try:
        _, model = config_files.load_models_config(os.path.join(config_dir, "models.config"))
        config_files.load_monitoring_config(os.path.join(config_dir, "monitoring.config"))
        if os.path.exists(os.path.join(config_dir, "ssl.config")):   # docker-compose.tls.yml
            from model_pkg.serving.tls import load_ssl_config

            load_ssl_config(os.path.join(config_dir, "ssl.config"))
    except config_files.ConfigError as err:
        raise PreflightError(str(err)) from err
    replayed = {}
    for version, folder in served_versions(model, models_dir):
        try:
            verify_version(folder)
            runtime = CApiRuntime(folder, verify=False)
            try:
                replayed[version] = len(replay_warmup(runtime, folder))
            finally:
                runtime.close()
        except Exception as err:  # noqa: BLE001 - any failure here is a failed load there
            raise PreflightError(f"version {version} ({folder}): {err}") from err
        log(f"version {version}: manifest verified, loaded by TF Serving's loader, "
            f"{replayed[version]} warmup records replayed")
    labels = ", ".join(f"{k} -> {v}" for k, v in sorted(model.version_labels.items()))
    log(f"serving {sorted(replayed)} with labels {labels or 'none'}: TF Serving can start")
    return replayed
