"""The manifest's library versions come from package metadata where the library is not used.

tf2onnx is only the alternative ONNX builder; recording its version must not import it.
"""

import importlib.metadata
import json
import os
import subprocess
import sys

_PROBE = ("import json, sys; from model_pkg.export.exporter import library_versions; "
          "v = library_versions(); print(json.dumps([v, 'tf2onnx' in sys.modules]))")


def test_recording_versions_does_not_import_tf2onnx():
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert out.returncode == 0, out.stderr[-2000:]
    versions, imported = json.loads(out.stdout.splitlines()[-1])
    assert versions["tf2onnx"] == importlib.metadata.version("tf2onnx")
    assert not imported
