// The page: loads model.onnx with onnxruntime-web (the global `ort`), draws a
// grid of digits for a label and a seed, and exposes window.cgan for tests.
// Contract (../../shared/CONTRACT.md): label int32 [N] in 0..9, noise float32
// [N, 100] -> images float32 [N, 28, 28, 1], ink in [0, 1].

import { checkSeed, MAX_SEED, NOISE_DIM, portableNoise } from "./noise.js";
import { onnxMetadata } from "./onnx_meta.js";

const SIZE = 28;
const $ = (id) => document.getElementById(id);

async function loadModel() {
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  // Threads need a cross-origin isolated page (the server sends COOP/COEP).
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const response = await fetch("model.onnx");
  if (!response.ok) throw new Error(`model.onnx: HTTP ${response.status}`);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const metadata = onnxMetadata(bytes);
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  return { session, metadata };
}

function checkLabel(label) {
  if (!Number.isInteger(label) || label < 0 || label > 9) {
    throw new RangeError(`label=${label}: must be an integer in 0..9`);
  }
  return label;
}

// Runs the model once: n digits of `label` with the seed's noise.
async function generate(session, label, seed, n) {
  checkLabel(label);
  checkSeed(seed);
  const labels = new Int32Array(n).fill(label);
  const feeds = {
    label: new ort.Tensor("int32", labels, [n]),
    noise: new ort.Tensor("float32", portableNoise(seed, n), [n, NOISE_DIM]),
  };
  const start = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - start;
  return { images: out.images.data, dims: out.images.dims, ms };
}

// Paints images (ink in [0, 1]) as white-on-black digits, `cols` per row,
// at their native 28x28 size; CSS scales the canvas without smoothing.
function paint(canvas, images, n) {
  const cols = Math.ceil(Math.sqrt(n));
  const rows = Math.ceil(n / cols);
  canvas.width = cols * SIZE;
  canvas.height = rows * SIZE;
  const ctx = canvas.getContext("2d");
  const picture = ctx.createImageData(canvas.width, canvas.height);
  for (let k = 0; k < n; k++) {
    const x0 = (k % cols) * SIZE;
    const y0 = Math.floor(k / cols) * SIZE;
    for (let i = 0; i < SIZE * SIZE; i++) {
      const gray = Math.round(255 * Math.min(1, Math.max(0, images[k * SIZE * SIZE + i])));
      const p = 4 * ((y0 + Math.floor(i / SIZE)) * canvas.width + x0 + (i % SIZE));
      picture.data.set([gray, gray, gray, 255], p);
    }
  }
  ctx.putImageData(picture, 0, 0);
  return cols;
}

function readControls() {
  const seed = Number($("seed").value);
  return { label: Number($("label").value), seed, n: Number($("count").value) };
}

async function main() {
  const { session, metadata } = await loadModel();
  $("status").textContent = `model ${metadata.model_name ?? "?"} version ${metadata.version ?? "?"} ` +
    `(manifest ${String(metadata.manifest_digest ?? "?").slice(0, 12)}…), onnxruntime-web ` +
    `${ort.env.versions?.web ?? ""} wasm, ${ort.env.wasm.numThreads} thread(s)`;
  await generate(session, 0, 0, 1);   // warm-up: the first run allocates

  async function draw(label, seed, n) {
    $("error").textContent = "";
    try {
      const result = await generate(session, label, seed, n);
      const cols = paint($("digits"), result.images, n);
      $("timing").textContent = `${n} digits of ${label}, seed ${seed}: ` +
        `${result.ms.toFixed(1)} ms per batch (${(result.ms / n).toFixed(2)} ms per digit)`;
      window.cgan.last = { label, seed, n, cols, ms: result.ms, images: Array.from(result.images) };
      return window.cgan.last;
    } catch (err) {
      $("error").textContent = String(err.message ?? err);
      throw err;
    }
  }

  window.cgan = { metadata, draw, last: null };
  $("draw").onclick = () => { const c = readControls(); draw(c.label, c.seed, c.n).catch(() => {}); };
  $("reroll").onclick = () => {
    const seed = crypto.getRandomValues(new Uint32Array(1))[0] % (MAX_SEED + 1);
    $("seed").value = String(seed);
    $("draw").onclick();
  };
  $("draw").disabled = $("reroll").disabled = false;
  $("draw").onclick();
  document.body.dataset.ready = "true";
}

main().catch((err) => {
  $("status").textContent = "failed to load the model";
  $("error").textContent = String(err.message ?? err);
  document.body.dataset.ready = "error";
});
