// Portable noise, the JavaScript twin of model_pkg/noise.py (read its docstring
// for the algorithm). The same seed gives the same float32 noise in both, so a
// seed means the same digits in the browser, in Node.js and in Python.

export const NOISE_DIM = 100;
export const MAX_SEED = 4294967295;

// mulberry32: 32-bit state, uniform floats in [0, 1).
export function mulberry32(seed) {
  let state = seed >>> 0;
  return function next() {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function checkSeed(seed) {
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) {
    throw new RangeError(`seed=${seed}: must be an integer in [0, ${MAX_SEED}]`);
  }
  return seed;
}

// Float32Array of n * 100 standard normals (Box-Muller), row-major [n, 100].
export function portableNoise(seed, n) {
  checkSeed(seed);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n=${n}: must be an integer >= 0`);
  const next = mulberry32(seed);
  const out = new Float32Array(n * NOISE_DIM);
  for (let i = 0; i < out.length; i += 2) {
    const radius = Math.sqrt(-2 * Math.log(1 - next()));
    const angle = 2 * Math.PI * next();
    out[i] = radius * Math.cos(angle);
    if (i + 1 < out.length) out[i + 1] = radius * Math.sin(angle);
  }
  return out;
}
