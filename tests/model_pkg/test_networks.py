"""The seed's layer tables, shapes and value ranges, pinned."""

import numpy as np
import pytest

from model_pkg import config as config_lib
from model_pkg import contract, networks

# From the seed report, per layer that holds parameters.
SEED_GENERATOR = [("dense", 348_096), ("dense_bn", 12_544), ("convt1", 36_928),
                  ("convt1_bn", 256), ("convt2", 577)]
SEED_DISCRIMINATOR = [("conv1", 640), ("conv1_bn", 256), ("conv2", 36_928), ("conv2_bn", 256),
                      ("dense", 401_536), ("dense_bn", 512), ("logits", 1_419)]


@pytest.fixture(scope="module")
def nets():
    return (networks.build_generator(config_lib.SEED),
            networks.build_discriminator(config_lib.SEED))


def test_generator_parameter_table_is_the_seeds(nets):
    generator, _ = nets
    assert networks.parameter_table(generator) == SEED_GENERATOR
    assert generator.count_params() == 398_401


def test_discriminator_parameter_table_is_the_seeds(nets):
    _, discriminator = nets
    assert networks.parameter_table(discriminator) == SEED_DISCRIMINATOR
    assert discriminator.count_params() == 441_547


def test_generator_layer_order_is_the_seeds(nets):
    generator, _ = nets
    kinds = [type(layer).__name__ for layer in generator.layers
             if type(layer).__name__ != "InputLayer"]
    assert [t.name for t in generator.inputs] == ["label", "noise"]
    assert kinds == ["Lambda", "Concatenate", "Dense",
                     "BatchNormalization", "LeakyReLU", "Reshape", "UpSampling2D",
                     "Conv2DTranspose", "BatchNormalization", "LeakyReLU", "UpSampling2D",
                     "Conv2DTranspose", "Activation"]


def test_shapes_and_ranges(nets):
    generator, discriminator = nets
    rng = np.random.default_rng(0)
    labels = np.arange(7, dtype=np.int32) % 10
    noise = (rng.standard_normal((7, contract.NOISE_DIM)) * 5).astype(np.float32)
    images = generator((labels, noise), training=False).numpy()
    assert images.shape == (7, 28, 28, 1) and images.dtype == np.float32
    assert images.min() >= -1.0 and images.max() <= 1.0
    logits = discriminator(images, training=False).numpy()
    assert logits.shape == (7, contract.NUM_DISC_OUTPUTS)


def test_label_changes_the_image(nets):
    generator, _ = nets
    noise = np.ones((2, contract.NOISE_DIM), np.float32)
    images = generator((np.array([3, 8], np.int32), noise), training=False).numpy()
    assert not np.allclose(images[0], images[1])
