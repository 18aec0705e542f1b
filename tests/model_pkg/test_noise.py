"""Portable noise: statistics, validation, and equality with the JavaScript twin."""

import json
import shutil
import subprocess

import numpy as np
import pytest

from model_pkg import contract
from model_pkg.noise import MAX_SEED, portable_noise, uniforms
from model_pkg.paths import SOURCE_DIR as PROJECT_ROOT

SEEDS = (0, 1, 12345, MAX_SEED)


def test_uniforms_are_mulberry32():
    # First draws of mulberry32(0), as the widely published JavaScript gives them.
    np.testing.assert_array_equal(uniforms(0, 2), [0.26642920868471265, 0.0003297457005828619])


def test_noise_is_standard_normal_and_prefix_stable():
    z = portable_noise(7, 2000)
    assert z.shape == (2000, contract.NOISE_DIM) and z.dtype == np.float32
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert abs(np.mean(np.abs(z) < 1.96) - 0.95) < 0.005
    np.testing.assert_array_equal(portable_noise(7, 3), z[:3])   # rows don't depend on N
    assert not np.array_equal(portable_noise(8, 3), z[:3])


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5, True, "3"])
def test_bad_seed_is_refused(seed):
    with pytest.raises(ValueError, match=r"seed=.*must be an integer in \[0, 4294967295\]"):
        portable_noise(seed, 1)


@pytest.mark.parametrize("n", [-1, 2.0])
def test_bad_count_is_refused(n):
    with pytest.raises(ValueError, match="n=.*must be an integer >= 0"):
        portable_noise(0, n)


def test_javascript_twin_gives_the_same_noise():
    if not shutil.which("node"):
        pytest.skip("node not on PATH")
    script = ("import {portableNoise} from './serving/web/noise.js';"
              "const out = {};"
              f"for (const s of {list(SEEDS)}) for (const n of [0, 1, 3, 50])"
              " out[`${s},${n}`] = Array.from(portableNoise(s, n));"
              "console.log(JSON.stringify(out));")
    result = subprocess.run(["node", "--input-type=module", "-e", script], cwd=PROJECT_ROOT,
                            capture_output=True, text=True, check=True)
    js = json.loads(result.stdout)
    for seed in SEEDS:
        for n in (0, 1, 3, 50):
            expected = portable_noise(seed, n).ravel()
            got = np.asarray(js[f"{seed},{n}"], np.float32)
            # Math.log/cos/sin may differ from NumPy's by an ulp before the float32 rounding.
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6, err_msg=f"seed {seed}")
