"""The GAN objectives, one file each, in one ordered registry (config.objective's choices).

An objective is D's head and the losses that go with it: D's loss, G's loss, D's diagnostics
and whether D sees the label (base.Objective says what each returns). The package default's
``projection_hinge`` and the seed's ``k_plus_1`` are two entries; neither networks.py nor gan.py
names one.

Adding an objective: a file here whose module-level ``OBJECTIVE`` is a base.Objective, and one
entry in REGISTRY. config.py takes its choices from REGISTRY; networks.py asks the objective
for D's head, gan.py for the losses.

Pure Python at import (no TensorFlow): config.py validates against REGISTRY, and the CLI starts
without TensorFlow; an objective's module is imported when it is first asked for.
"""

import importlib

# config.objective's value -> the module holding that objective's OBJECTIVE. Ordered: the
# seed's first, then as added (error messages and benchmarks list them in this order).
REGISTRY = {
    "k_plus_1": "model_pkg.objectives.k_plus_1",
    "2k": "model_pkg.objectives.two_k",
    "projection_hinge": "model_pkg.objectives.projection_hinge",
}


def names():
    """The registered objectives' names, in registry order."""
    return tuple(REGISTRY)


def get(name):
    """The base.Objective registered as ``name``.

    Raises ValueError naming the choices for an unknown name, or naming the module when it
    holds no OBJECTIVE of that name.
    """
    if name not in REGISTRY:
        raise ValueError(f"objective {name!r}: must be one of {names()}")
    module = REGISTRY[name]
    objective = getattr(importlib.import_module(module), "OBJECTIVE", None)
    if getattr(objective, "name", None) != name:
        raise ValueError(f"objective {name!r}: module {module} must define OBJECTIVE, an "
                         f"objective whose name is {name!r}")
    return objective
