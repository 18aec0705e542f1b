"""ServerCore as TF Serving's source does it: config, versions, labels, polling.

A TEST FIXTURE, not TF Serving. Each rule cites the code it follows (file and
function in tensorflow/serving); docs/tf_serving.md has the table and the test
that holds each row. Versions load through TensorFlow's C API, which is TF
Serving's own loader (tensorflow::LoadSavedModel), and replay their warmup.
"""

import logging
import os
import threading

from google.protobuf import text_format

from model_pkg.export.tf_c_api import CApiError, CApiRuntime, replay_warmup
from model_pkg.serving import protos
from tests.serving.standin.flags import MountedFile, host_dir
from tests.serving.standin.status import Refused, StartupRefused

log = logging.getLogger("standin")


class _Version:
    def __init__(self, number, runtime=None, state="AVAILABLE", error=""):
        self.number, self.runtime, self.state, self.error = number, runtime, state, error


class ServerCore:
    """One model's versions and labels, reloaded the way ServerCore::ReloadConfig does."""

    def __init__(self, options, mounts, batcher=None):
        self.options, self.mounts, self.batcher = options, mounts, batcher
        self.config_file = MountedFile(mounts, options["model_config_file"])
        self.name = None
        self.versions = {}      # number -> _Version (END ones stay listed, as in TF Serving)
        self.labels = None      # None until the first label map is installed
        self.reload_errors = []
        self._lock = threading.RLock()

    # --- config --------------------------------------------------------------
    def read_config(self):
        """The ModelServerConfig; util/proto_util.h ``ParseProtoTextFile`` opens the path anew."""
        try:
            config = text_format.Parse(self.config_file.read_text(),
                                       protos.model_server_config()())
        except (OSError, text_format.ParseError) as err:
            raise Refused("INVALID_ARGUMENT", f"Invalid protobuf file: "
                          f"'{self.config_file.container_path}' ({err})") from err
        models = list(config.model_config_list.config)
        if len(models) != 1:
            raise Refused("UNIMPLEMENTED", "the stand-in serves exactly one model")
        return models[0]

    def start(self):
        """Server::BuildAndStart -> ServerCore::Create -> ReloadConfig; errors end the process."""
        try:
            self._reload(self.read_config())
        except Refused as err:
            raise StartupRefused(f"Failed to start server. Error: {err}") from err
        if not any(v.state == "AVAILABLE" for v in self.versions.values()):
            # ConnectAdaptersToManagerAndAwaitModelLoads waits on Latest(model) with
            # no timeout; the ports open only after it.
            raise StartupRefused(f"no version of {self.name} under its base path: "
                                 "TF Serving would wait forever with its ports closed")

    def poll_once(self):
        """One tick of Server::PollFilesystemAndReloadConfig: errors are logged, not raised."""
        try:
            self._reload(self.read_config())
        except Refused as err:
            self.reload_errors.append(str(err))
            log.error("PollFilesystemAndReloadConfig failed to ReloadConfig: %s", err)

    def _reload(self, model):
        """UpdateModelVersionLabelMap first, then the versions (server_core.cc, ReloadConfig)."""
        with self._lock:
            self.name = model.name
            labels = self._checked_labels(model)
            self.labels = labels                                     # swapped at line 611
            self._apply_versions(model)

    def _checked_labels(self, model):
        """server_core.cc ``UpdateModelVersionLabelMap``: the label rules, before any load."""
        allow = self.options["allow_version_labels_for_unavailable_models"]
        for label, version in model.version_labels.items():
            available = getattr(self.versions.get(version), "state", None) == "AVAILABLE"
            existing = None if self.labels is None else self.labels.get(label)
            # With the flag: a new label (or the same version) may name an unloaded
            # version; an existing label may move only to an AVAILABLE one.
            allowed = allow and (existing is None or existing == version)
            if not (allowed or available):
                raise Refused("FAILED_PRECONDITION",
                              f"Request to assign label to version {version} of model "
                              f"{model.name}, which is not currently available for inference")
        return dict(model.version_labels)

    def _apply_versions(self, model):
        """The file-system source: aspire the ``specific`` versions present, unload the rest."""
        root = host_dir(self.mounts, model.base_path)
        present = ({int(d) for d in os.listdir(root) if d.isdigit()} if os.path.isdir(root)
                   else set())
        if model.model_version_policy.HasField("specific"):
            wanted = set(model.model_version_policy.specific.versions)
        else:
            wanted = {max(present)} if present else set()   # the default policy: latest 1
        for number in sorted(wanted - present):
            log.warning("Version %s of servable %s ... was not found in the file system",
                        number, model.name)
        for number in sorted(wanted & present):
            if getattr(self.versions.get(number), "state", None) != "AVAILABLE":
                self.versions[number] = self._load(number, os.path.join(root, str(number)))
        for number, version in self.versions.items():
            if number not in wanted and version.state == "AVAILABLE":
                version.runtime.close()
                version.runtime, version.state = None, "END"

    def _load(self, number, folder):
        """SavedModelBundleFactory + RunSavedModelWarmup: a failing warmup fails the load."""
        try:
            runtime = CApiRuntime(folder, verify=False)
            if self.options["enable_model_warmup"]:
                replay_warmup(runtime, folder)
        except CApiError as err:
            raise Refused("UNKNOWN", f"1 servable(s) did not become available: "
                          f"{{name: {self.name} version: {number}}} due to error: {err}") from err
        return _Version(number, runtime)

    # --- requests ------------------------------------------------------------
    def resolve(self, name, version=None, label=None):
        """ServerCore::GetServableHandle: the version a request's ModelSpec names."""
        with self._lock:
            if label is not None:
                if self.labels is None or label not in self.labels:
                    raise Refused("INVALID_ARGUMENT",
                                  f"Unrecognized servable version label: {label}")
                version = self.labels[label]
            request = f"Latest({name})" if version is None else f"Specific({name}, {version})"
            available = [n for n, v in self.versions.items() if v.state == "AVAILABLE"]
            if name != self.name or not available:
                raise Refused("NOT_FOUND", f"Servable not found for request: {request}")
            number = max(available) if version is None else int(version)
            if number not in available:
                raise Refused("NOT_FOUND", f"Servable not found for request: {request}")
            return number, self.versions[number].runtime

    def status(self, name, version=None):
        """GetModelStatusImpl: labels are ignored; END versions stay listed, newest first."""
        with self._lock:
            if name != self.name or not self.versions:
                raise Refused("NOT_FOUND", f"Could not find any versions of model {name}")
            if version is not None and int(version) not in self.versions:
                raise Refused("NOT_FOUND", f"Could not find version {version} of model {name}")
            numbers = [int(version)] if version is not None else sorted(self.versions)[::-1]
            return [(n, self.versions[n].state) for n in numbers]

    def run(self, runtime, inputs):
        """Session::Run of one request, through the batcher when --enable_batching is on."""
        if self.batcher is not None:
            return self.batcher.submit(runtime, inputs)
        try:
            return runtime.run_tensors(inputs)
        except CApiError as err:
            raise Refused(err.code, err.message) from err

    def close(self):
        self.config_file.close()
        for version in self.versions.values():
            if version.runtime is not None:
                version.runtime.close()
