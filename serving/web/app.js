// The page: loads model.onnx (or model.int8.onnx, ?precision=) with onnxruntime-web (the global `ort`), draws a
// grid of digits for a label and a seed, and exposes window.cgan for tests.
// Contract (../../shared/CONTRACT.md): label int32 [N] in 0..9, noise float32
// [N, 100] -> images float32 [N, 28, 28, 1], ink in [0, 1].

import { checkSeed, MAX_SEED, NOISE_DIM, portableNoise } from "./noise.js";
import { onnxMetadata } from "./onnx_meta.js";

const SIZE = 28;
const $ = (id) => document.getElementById(id);

// ?precision=float|int8|fast (the select on the page sets it; default float): which file
// the page runs. int8 and fast load model.int8.onnx when the version's manifest says it
// was published (the server checks its bytes against the manifest), else model.onnx,
// and say why; float is model.onnx, within 1e-4 of Python (docs/embedding.md).
const PRECISIONS = ["float", "int8", "fast"];
const INT8_FILE = "model.int8.onnx";

function requestedPrecision() {
  const value = new URLSearchParams(location.search).get("precision") ?? "float";
  if (!PRECISIONS.includes(value)) {
    throw new RangeError(`precision=${value}: must be one of ${PRECISIONS.join(", ")}`);
  }
  return value;
}

async function fetchBytes(name) {
  const response = await fetch(name);
  if (!response.ok) throw new Error(`${name}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

// {used, file, note}: the path for `requested` on this version (manifest.json).
function choosePath(requested, manifest) {
  if (requested === "float") return { used: "float", file: "model.onnx", note: "" };
  const record = manifest.reduced_precision?.int8;
  if (record?.published && manifest.files?.[INT8_FILE]) {
    return { used: "int8", file: INT8_FILE, note: "" };
  }
  const why = record ? record.reason : "the version predates reduced precision";
  return { used: "float", file: "model.onnx", note: `no ${INT8_FILE} (${why}); running model.onnx` };
}

async function openSession(bytes) {
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
}

async function loadModel() {
  ort.env.wasm.wasmPaths = new URL("ort/", location.href).href;
  // Threads need a cross-origin isolated page (the server sends COOP/COEP).
  ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const requested = requestedPrecision();
  const manifest = JSON.parse(new TextDecoder().decode(await fetchBytes("manifest.json")));
  const path = { requested, ...choosePath(requested, manifest) };
  let session;
  if (path.used === "int8") {
    try {
      session = await openSession(await fetchBytes(INT8_FILE));
    } catch (err) {   // onnxruntime-web without the int8 kernels: float, and say why
      Object.assign(path, { used: "float", file: "model.onnx",
        note: `${INT8_FILE} failed in onnxruntime-web (${err.message ?? err}); running model.onnx` });
    }
  }
  // model.onnx carries its version stamp; the int8 file is tied to it by the manifest.
  const floatBytes = path.used === "float" ? await fetchBytes("model.onnx") : null;
  session = session ?? await openSession(floatBytes);
  const metadata = floatBytes ? onnxMetadata(floatBytes) : { model_name: manifest.model_name,
    version: String(manifest.version), manifest_digest: manifest.digest };
  return { session, metadata, path };
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
  $("precision").onchange = () => {
    location.search = `?precision=${encodeURIComponent($("precision").value)}`;
  };
  const { session, metadata, path } = await loadModel();
  $("precision").value = path.requested;
  $("status").textContent = `model ${metadata.model_name ?? "?"} version ${metadata.version ?? "?"} ` +
    `(manifest ${String(metadata.manifest_digest ?? "?").slice(0, 12)}…), ${path.file} ` +
    `(${path.used}), onnxruntime-web ` +
    `${ort.env.versions?.web ?? ""} wasm, ${ort.env.wasm.numThreads} thread(s)`;
  $("note").textContent = path.note;
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

  window.cgan = { metadata, path, draw, last: null };
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
