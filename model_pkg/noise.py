"""Portable noise: the same seed gives the same noise in Python and JavaScript.

The generator's noise input is float32 [N, 100], standard normal. Platform
generators (NumPy's, the browser's Math.random) differ, so the package defines
its own, small enough to re-implement anywhere (serving/web/noise.js is the
JavaScript twin; tests hold both to the same numbers):

1. Uniforms: mulberry32. For draw i = 1, 2, ... with 32-bit unsigned
   arithmetic (wrapping):
       s = seed + i * 0x6D2B79F5
       t = (s ^ (s >> 15)) * (s | 1)
       t ^= t + (t ^ (t >> 7)) * (t | 61)
       u_i = (t ^ (t >> 14)) / 2**32                    # in [0, 1)
   (Counter-based: draw i needs only the seed and i, so NumPy computes all
   draws at once; a JavaScript loop gets the same values one by one.)
2. Normals: Box-Muller on consecutive pairs (u_1, u_2), (u_3, u_4), ...:
       r = sqrt(-2 ln(1 - u_odd));  z = r cos(2 pi u_even), r sin(2 pi u_even)
   in float64, then rounded to float32.
3. Layout: the first N * 100 normals fill the [N, 100] matrix row by row, so
   the first k rows of a seed's noise do not depend on N.

Transcendental functions may differ by an ulp between platforms; after the
float32 rounding the two implementations agree within 1e-6 (tested).
"""

import numpy as np

from model_pkg import contract

_GOLDEN = np.uint32(0x6D2B79F5)
MAX_SEED = 2**32 - 1


def uniforms(seed, count):
    """float64 [count] in [0, 1): mulberry32 draws 1..count of ``seed``."""
    seed = check_noise_seed(seed)
    with np.errstate(over="ignore"):   # uint32 wrap-around is the algorithm
        s = np.uint32(seed) + np.arange(1, count + 1, dtype=np.uint32) * _GOLDEN
        t = (s ^ (s >> np.uint32(15))) * (s | np.uint32(1))
        t ^= t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61))
        t ^= t >> np.uint32(14)
    return t.astype(np.float64) / 2.0**32


def portable_noise(seed, n):
    """float32 [n, 100] standard-normal noise, identical in serving/web/noise.js.

    Args:
      seed: int in [0, 2**32 - 1].
      n: number of rows (digits), >= 0.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"n={n!r}: must be an integer >= 0")
    count = n * contract.NOISE_DIM
    u = uniforms(seed, count + count % 2)
    radius = np.sqrt(-2.0 * np.log(1.0 - u[0::2]))
    angle = 2.0 * np.pi * u[1::2]
    normals = np.empty(u.size, dtype=np.float64)
    normals[0::2] = radius * np.cos(angle)
    normals[1::2] = radius * np.sin(angle)
    return normals[:count].astype(np.float32).reshape(n, contract.NOISE_DIM)


def check_noise_seed(seed):
    """Returns ``seed`` as int, or raises naming the rule."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) \
            or not 0 <= int(seed) <= MAX_SEED:
        raise ValueError(f"seed={seed!r}: must be an integer in [0, {MAX_SEED}]")
    return int(seed)
