"""Where the package keeps its outputs by default, relative to the project root.

The project root is the folder holding ``model_pkg/`` (a checkout, or /app in
the Docker image, both installed in editable mode). Every stage asks here
instead of computing it again.
"""

import os

from model_pkg import contract

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def default_models_dir():
    """artifacts/models under the project root (the contract's default)."""
    return os.path.join(PROJECT_ROOT, contract.DEFAULT_MODELS_DIR)


def default_pipeline_workdir():
    """The training workdir of ``model-pkg pipeline``."""
    return os.path.join(PROJECT_ROOT, "artifacts", "train", "default")


def evaluator_dir():
    """Where the evaluator classifier is cached: $MODEL_PKG_EVALUATOR_DIR or artifacts/evaluator."""
    return os.environ.get("MODEL_PKG_EVALUATOR_DIR",
                          os.path.join(PROJECT_ROOT, "artifacts", "evaluator"))
