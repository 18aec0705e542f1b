"""Node.js on raw model.onnx follows the same rule as ONNX Runtime in Python.

With onnxruntime-node (what serving/web/node_example.mjs embeds) and onnxruntime-web's
WebAssembly (what the page runs, here in Node): it refuses the same inputs (every label
outside 0..9, N = 0, different N), and its images agree within 1e-5 (NaN where Python's
are NaN, for NaN noise only).

One Node process per package runs every case (about a second); skipped where Node or the
web dependencies are missing (.ci/run installs both and sets MODEL_PKG_REQUIRE_BROWSER).
"""

import base64
import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from model_pkg import contract
from model_pkg.export.runtimes import OnnxRuntime
from model_pkg.serving import web_app

pytestmark = pytest.mark.faults

_SCRIPT = r"""
import { createRequire } from "node:module";
import { readFileSync } from "node:fs";
const [webDir, modelPath, pkg] = process.argv.slice(2);
const ort = createRequire(webDir + "/")(pkg);
const options = {};
if (pkg === "onnxruntime-web") {   // the page's runtime: WebAssembly, here in Node
  ort.env.wasm.numThreads = 1;
  options.executionProviders = ["wasm"];
}
const session = await ort.InferenceSession.create(modelPath, options);
const b64 = (a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString("base64");
const raw = (text) => {
  const b = Buffer.from(text, "base64");
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length);
};
for (const c of JSON.parse(readFileSync(0, "utf8"))) {
  try {
    const { images } = await session.run({
      label: new ort.Tensor("int32", new Int32Array(raw(c.label)), c.label_shape),
      noise: new ort.Tensor("float32", new Float32Array(raw(c.noise)), c.noise_shape),
    });
    console.log(JSON.stringify({ dims: images.dims, images: b64(images.data) }));
  } catch (err) {
    console.log(JSON.stringify({ error: String(err.message ?? err) }));
  }
}
"""


def _cases():
    rng = np.random.default_rng(4)
    normal = rng.standard_normal((10, contract.NOISE_DIM)).astype(np.float32)
    digits = np.arange(10, dtype=np.int32)
    out = {"good": (digits, normal)}
    for label in (-1, -5, -10, -11, 10, 19, 2**31 - 1, -2**31, -2**31 + 9):
        out[f"label {label}"] = (np.array([2, label], np.int32), normal[:2])
    for value in (np.nan, np.inf, -np.inf, 3e38, -1e3, contract.NOISE_CLIP):
        noise = normal.copy()
        noise[3] = np.sign(noise[3]) * np.float32(value)
        noise[5, 7] = value
        out[f"noise {value}"] = (digits, noise)
    out["N = 0"] = (digits[:0], normal[:0])
    out["N 2 vs 3"] = (digits[:2], normal[:3])
    return out


def _require_node(package):
    missing = (None if shutil.which("node") and os.path.isdir(
        os.path.join(web_app.WEB_DIR, "node_modules", package))
        else f"node or {package} missing: run `make web-deps` (npm ci in serving/web)")
    if missing and os.environ.get("MODEL_PKG_REQUIRE_BROWSER"):
        pytest.fail(f"MODEL_PKG_REQUIRE_BROWSER is set but {missing}")
    if missing:
        pytest.skip(missing)


@pytest.mark.parametrize("package", ["onnxruntime-node", "onnxruntime-web"])
@pytest.mark.parametrize("which", ["seed", "default"])
def test_node_refuses_and_answers_as_python_onnx_runtime(request, which, package, tmp_path):
    _require_node(package)
    version = request.getfixturevalue("published" if which == "seed" else "published_default")[1]
    session = OnnxRuntime(version).session
    cases = _cases()
    script = tmp_path / "cases.mjs"
    script.write_text(_SCRIPT)
    payload = [{"label": base64.b64encode(label.tobytes()).decode(), "label_shape": label.shape,
                "noise": base64.b64encode(noise.tobytes()).decode(), "noise_shape": noise.shape}
               for label, noise in cases.values()]
    out = subprocess.run(["node", str(script), web_app.WEB_DIR,
                          os.path.join(version, contract.ONNX_NAME), package],
                         input=json.dumps(payload), capture_output=True, text=True, timeout=120,
                         check=True)
    for (case, (label, noise)), line in zip(cases.items(), out.stdout.splitlines(), strict=True):
        node = json.loads(line)
        if case.startswith(("label", "N")):   # the contract: raw model.onnx refuses these
            assert "error" in node, f"{case}: Node answered images"
        try:
            expected = session.run(None, {"label": label, "noise": noise})[0]
        except Exception as err:  # noqa: BLE001 - Python refused: Node must too
            assert "error" in node, f"{case}: Python refused ({err}), Node answered"
            continue
        assert "error" not in node, f"{case}: Python answered, Node refused: {node['error']}"
        images = np.frombuffer(base64.b64decode(node["images"]), np.float32).reshape(node["dims"])
        np.testing.assert_allclose(images, expected, rtol=0, atol=contract.PARITY_ATOL,
                                   equal_nan=True, err_msg=case)
        bad = ~np.isfinite(noise).all(axis=1)   # NaN pixels there, and only there
        assert np.isnan(images[bad]).all() and np.isfinite(images[~bad]).all(), case
        assert 0 <= images[~bad].min() <= images[~bad].max() <= 1, case
