"""The trained Keras generator as a runtime: the parity gate's reference."""

import numpy as np

from model_pkg import contract
from model_pkg.validation import validate_inputs


class KerasRuntime:
    """The Keras generator itself, mapped to the contract's range."""

    name = "keras"

    def __init__(self, generator):
        self.generator = generator

    def run_unchecked(self, label, noise):
        """The generator's own call, tanh [-1,1] mapped to [0,1]: no validation and no
        noise bound (the bench times this; the graphs bound the noise inside)."""
        images = self.generator((label, noise), training=False).numpy()
        return np.clip((images + 1.0) * 0.5, contract.PIXEL_MIN, contract.PIXEL_MAX)

    def generate(self, label, noise):
        """(label int [N] 0..9, noise float [N,100]) -> float32 [N,28,28,1] in [0,1]."""
        label, noise = validate_inputs(label, noise)
        return self.run_unchecked(label, clip_noise(noise))


def clip_noise(noise):
    """NumPy twin of the graphs' noise bound (export/signature.py, clip_noise)."""
    noise = np.clip(noise, -contract.NOISE_CLIP, contract.NOISE_CLIP)
    norm = np.sqrt(np.sum(np.square(noise), axis=1, keepdims=True))
    with np.errstate(divide="ignore"):   # a zero row: min(1, inf) = 1, as in the graphs
        return noise * np.minimum(np.float32(1), np.float32(contract.NOISE_NORM_CLIP) / norm)
