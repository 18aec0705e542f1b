// Embedding model.onnx in a Node.js app with onnxruntime-node (native ONNX Runtime).
// Usage: node node_example.mjs VERSION_DIR/model.onnx LABEL SEED N
// (or VERSION_DIR/model.int8.onnx, the int8 file, where the version's manifest lists it:
// docs/embedding.md, "Reduced precision in Python, the page and Node.js")
// Prints {"dims": [N, 28, 28, 1], "images": [...]} as JSON: ink in [0, 1].
import * as ort from "onnxruntime-node";
import { portableNoise, NOISE_DIM } from "./noise.js";

const [modelPath, labelText, seedText, nText] = process.argv.slice(2);
const [label, seed, n] = [Number(labelText), Number(seedText), Number(nText)];
if (!modelPath || !Number.isInteger(label) || label < 0 || label > 9 || !Number.isInteger(n) || n < 1) {
  console.error("usage: node node_example.mjs MODEL.onnx LABEL(0..9) SEED N(>=1)");
  process.exit(2);
}
const session = await ort.InferenceSession.create(modelPath);
const { images } = await session.run({
  label: new ort.Tensor("int32", new Int32Array(n).fill(label), [n]),
  noise: new ort.Tensor("float32", portableNoise(seed, n), [n, NOISE_DIM]),
});
console.log(JSON.stringify({ dims: images.dims, images: Array.from(images.data) }));
