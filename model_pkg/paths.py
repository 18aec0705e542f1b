"""Where the package keeps its outputs by default: under the working directory.

``$MODEL_PKG_HOME`` moves the whole tree; ``$MODEL_PKG_MODELS_DIR`` and
``$MODEL_PKG_EVALUATOR_DIR`` move one part. Never the install location: an
installed wheel writes into the folder it is run from (the contract's
"artifacts/models under the working directory"). Every stage asks here.
"""

import os

from model_pkg import contract

# The folder holding the package's own source (for its git commit; in a
# checkout that is the project root, in site-packages it is not a repository).
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def home():
    """$MODEL_PKG_HOME, else the working directory."""
    return os.path.abspath(os.environ.get("MODEL_PKG_HOME") or os.getcwd())


def default_models_dir():
    """$MODEL_PKG_MODELS_DIR, else artifacts/models under home() (the contract's default)."""
    return os.environ.get("MODEL_PKG_MODELS_DIR") or os.path.join(home(),
                                                                   contract.DEFAULT_MODELS_DIR)


def default_pipeline_workdir():
    """The training workdir of ``model-pkg pipeline``."""
    return os.path.join(home(), "artifacts", "train", "default")


def evaluator_dir():
    """Where the evaluator classifier is cached: $MODEL_PKG_EVALUATOR_DIR or artifacts/evaluator."""
    return os.environ.get("MODEL_PKG_EVALUATOR_DIR") or os.path.join(home(), "artifacts",
                                                                      "evaluator")


def bench_outputs():
    """(bench.json, BENCHMARKS.md) that ``model-pkg bench`` writes by default."""
    return (os.path.join(home(), "artifacts", "bench", "bench.json"),
            os.path.join(home(), "BENCHMARKS.md"))
