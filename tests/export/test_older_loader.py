"""A version exported here loads and runs in an older TensorFlow's loader (the serving image's).

The compose default is tensorflow/serving:2.20.0, built on TensorFlow 2.20, while versions are
exported with 2.21. Set MODEL_PKG_OLDER_TF_PYTHON to the python of a virtualenv holding
``tensorflow-cpu==2.20.0`` and ``tensorflow-serving-api==2.20.0 --no-deps``; else this skips.
"""

import json
import os
import subprocess

import numpy as np
import pytest

from model_pkg.export import parity
from model_pkg.export.runtimes import CApiRuntime

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SCRIPT = """
import json, sys
import numpy as np
import tensorflow as tf
from model_pkg.export import parity
from model_pkg.export.tf_c_api import CApiError, CApiRuntime, replay_warmup
runtime = CApiRuntime(sys.argv[1], verify=False)
outs = [runtime.run_unchecked(l, z) for l, z in parity.golden_inputs()]
np.savez(sys.argv[2], *outs)
refused = 0
for label, noise in parity.bad_inputs().values():
    try:
        runtime.run_unchecked(label, noise)
    except CApiError:
        refused += 1
print(json.dumps({"tensorflow": tf.__version__, "refused": refused,
                  "warmup": len(replay_warmup(runtime, sys.argv[1]))}))
"""


def test_an_older_tensorflow_loads_and_runs_the_version(published, tmp_path):
    python = os.environ.get("MODEL_PKG_OLDER_TF_PYTHON")
    if not python:
        pytest.skip("set MODEL_PKG_OLDER_TF_PYTHON to a python with an older tensorflow-cpu")
    out = subprocess.run([python, "-c", _SCRIPT, published[1], str(tmp_path / "outs.npz")],
                         capture_output=True, text=True, timeout=600,
                         env=dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode == 0, out.stderr[-2000:]
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["refused"] == len(parity.bad_inputs()) and report["warmup"] == 18
    older = np.load(tmp_path / "outs.npz")
    runtime = CApiRuntime(published[1])
    for i, (label, noise) in enumerate(parity.golden_inputs()):
        np.testing.assert_allclose(older[f"arr_{i}"], runtime.run_unchecked(label, noise),
                                   rtol=0, atol=1e-5, err_msg=report["tensorflow"])
    runtime.close()
