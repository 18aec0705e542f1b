"""The runtimes, in one ordered registry, and the one protocol they all follow.

Every runtime is a ``Generator``: ``name`` and ``generate(label, noise)``, which
validates once (model_pkg/validation.py) and returns float32 [N,28,28,1] in [0,1].
Runtimes that hold native resources also have ``close()``; in-process runtimes of
a graph also have ``run_unchecked(label, noise)``, the raw call without Python-side
validation (the parity gate proves the graphs' own checks with it, the bench times it).

The registry is the one list everything else reads: ``model-pkg generate --runtime``
offers every entry that needs a version folder or a server, serving/generate.py's
open_client opens them, export/exporter.py's parity gate runs the ``parity`` entries
and benchmarks/inference.py times the ``bench`` entries. Entries name their class as
"module:Class" and are imported only when opened, since this module sits in the
bottom layer and the runtimes live in export/ and serving/ (tf2onnx's optimizer
registry has the same shape: one file per optimizer, one ordered list).

Adding a runtime: its own file with the class, plus one ``Entry`` below
(docs/architecture.md, "Adding a runtime"). Tests may ``register`` more.
"""

import dataclasses
import importlib
from typing import Protocol, runtime_checkable

# What opening an entry takes; "url" and "target" are servers (remote runtimes).
NEEDS = ("generator", "version", "url", "target")
# How the parity gate checks an entry: "outputs" = golden outputs only (the reference);
# "validator" = outputs, and every bad input refused by generate (the Python validator);
# "graph" = outputs, and every bad input refused by run_unchecked (the graph's own checks).
PARITY = ("outputs", "validator", "graph")


class MissingExtra(RuntimeError):
    """The runtime needs an optional extra that is not installed; the message names it."""


@runtime_checkable
class Generator(Protocol):
    """A runtime: ``generate(label int [N] 0..9, noise float [N,100] finite)`` ->
    float32 [N,28,28,1] in [0,1]; a bad input raises InputError (or the server's error)."""

    name: str

    def generate(self, label, noise): ...


@dataclasses.dataclass(frozen=True)
class Entry:
    """One runtime.

    name: what users type (``generate --runtime NAME``); the runtime's own ``.name``
      labels reports and may say more (``savedmodel`` runs as ``savedmodel_tf2``).
    target: "module:Class", imported when opened.
    needs: one of NEEDS: the class's first argument (a Keras generator, a version
      folder or model.onnx, a REST url, a gRPC target).
    parity: None (not in the export gate) or one of PARITY.
    bench: the row name benchmarks/inference.py times its ``run_unchecked`` under, or None.
    extra: the pip extra it needs (``model-pkg[extra]``), or None.
    user_options: keyword arguments when a user opens it (generate, open_client); the
      gate and the bench open it with the class's defaults (ONNX: CPU).
    """

    name: str
    target: str
    needs: str
    parity: str | None = None
    bench: str | None = None
    extra: str | None = None
    user_options: tuple = ()

    def __post_init__(self):
        if self.needs not in NEEDS:
            raise ValueError(f"runtime {self.name!r}: needs {self.needs!r} must be one of {NEEDS}")
        if self.parity is not None and self.parity not in PARITY:
            raise ValueError(f"runtime {self.name!r}: parity {self.parity!r} must be None "
                             f"or one of {PARITY}")
        if self.target.count(":") != 1:
            raise ValueError(f"runtime {self.name!r}: target {self.target!r} must be "
                             f"'module:Class'")

    @property
    def remote(self):
        """True for a server (REST or gRPC), False for an in-process runtime."""
        return self.needs in ("url", "target")

    def load(self):
        """The class, imported now."""
        module, _, attr = self.target.partition(":")
        return getattr(importlib.import_module(module), attr)

    def open(self, where=None, for_user=False, **kwargs):
        """An opened runtime: ``Class(where, **kwargs)``; ``where`` None leaves the
        class's default (servers). ``for_user`` adds ``user_options`` first."""
        options = {**dict(self.user_options), **kwargs} if for_user else kwargs
        try:
            cls = self.load()
            return cls(**options) if where is None else cls(where, **options)
        except ImportError as err:
            if self.extra is None:
                raise
            raise MissingExtra(f"runtime {self.name!r} needs the optional extra: pip install "
                               f"'model-pkg[{self.extra}]' ({err})") from err


_BUILT_IN = (
    Entry("keras", "model_pkg.export.runtime_keras:KerasRuntime", "generator",
          parity="outputs", bench="keras"),
    Entry("savedmodel", "model_pkg.export.runtime_savedmodel:SavedModelRuntime", "version",
          parity="graph", bench="savedmodel_tf"),
    Entry("savedmodel_c_api", "model_pkg.export.tf_c_api:CApiRuntime", "version",
          parity="graph"),
    Entry("onnx", "model_pkg.export.runtime_onnx:OnnxRuntime", "version",
          parity="validator", bench="onnx_cpu", user_options=(("device", "auto"),)),
    Entry("rest", "model_pkg.serving.rest_client:RestClient", "url"),
    Entry("grpc", "model_pkg.serving.grpc_client:GrpcClient", "target"),
    # The bench's peer: two rows of it in benchmarks/peers.py (f32 and OpenVINO's default).
    Entry("openvino", "model_pkg.export.runtime_openvino:OpenVinoRuntime", "version",
          extra="openvino"),
)
# name -> Entry, in order: the gate's, the bench's and the CLI's order.
REGISTRY = {entry.name: entry for entry in _BUILT_IN}


def register(entry):
    """Adds ``entry`` at the end; ValueError if its name is taken. Returns it."""
    if entry.name in REGISTRY:
        raise ValueError(f"runtime {entry.name!r} is already registered")
    REGISTRY[entry.name] = entry
    return entry


def entries(parity=None, bench=None, usable=None):
    """The entries in registry order; each filter given as True/False keeps only the
    entries that are (not) in the parity gate, the bench, or usable by ``generate``
    (usable: opened from a version folder or a server, not from a Keras generator)."""
    keep = []
    for entry in REGISTRY.values():
        facts = {"parity": entry.parity is not None, "bench": entry.bench is not None,
                 "usable": entry.needs != "generator"}
        wanted = {"parity": parity, "bench": bench, "usable": usable}
        if all(wanted[k] is None or wanted[k] == facts[k] for k in facts):
            keep.append(entry)
    return keep


def names(**filters):
    """The names of ``entries(**filters)``, in order."""
    return tuple(entry.name for entry in entries(**filters))


def get(name, usable=None):
    """The entry called ``name``; ValueError naming the choices otherwise."""
    choices = names(usable=usable)
    if name not in choices:
        raise ValueError(f"--runtime {name!r}: must be one of {', '.join(choices)}")
    return REGISTRY[name]
