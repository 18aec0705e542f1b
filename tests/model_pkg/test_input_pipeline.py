"""The tf.data pipeline: right shapes, every digit once per epoch, resumable order."""

import numpy as np

from model_pkg.input_pipeline import train_dataset


def _toy(n=50):
    # Each image's pixels encode its index, so a batch can be traced back.
    x = np.zeros((n, 28, 28), np.uint8)
    x[:, 0, 0] = np.arange(n)
    return x, (np.arange(n) % 10).astype(np.uint8)


def _indices(batch_images):
    return np.rint((batch_images[:, 0, 0, 0] + 1.0) * 127.5).astype(int).tolist()


def _take(ds, count):
    return [(img.numpy(), lab.numpy()) for img, lab in ds.take(count)]


def test_batches_have_the_contract_shapes_and_range():
    x, y = _toy()
    (images, labels), = _take(train_dataset(x, y, batch_size=5, seed=0), 1)
    assert images.shape == (5, 28, 28, 1) and images.dtype == np.float32
    assert labels.dtype == np.int32 and images.min() >= -1.0 and images.max() <= 1.0
    assert [i % 10 for i in _indices(images)] == labels.tolist()


def test_each_epoch_is_a_permutation_and_epochs_differ():
    x, y = _toy(50)
    batches = _take(train_dataset(x, y, batch_size=10, seed=3), 10)
    first = sum((_indices(b[0]) for b in batches[:5]), [])
    second = sum((_indices(b[0]) for b in batches[5:]), [])
    assert sorted(first) == list(range(50)) and sorted(second) == list(range(50))
    assert first != second and first != list(range(50))


def test_same_seed_same_order_other_seed_other_order():
    x, y = _toy()
    a = _indices(_take(train_dataset(x, y, 10, seed=1), 1)[0][0])
    b = _indices(_take(train_dataset(x, y, 10, seed=1), 1)[0][0])
    c = _indices(_take(train_dataset(x, y, 10, seed=2), 1)[0][0])
    assert a == b and a != c


def test_start_step_continues_exactly_where_a_run_stopped():
    x, y = _toy(50)
    full = [_indices(b[0]) for b in _take(train_dataset(x, y, 7, seed=5), 12)]
    resumed = [_indices(b[0]) for b in _take(train_dataset(x, y, 7, seed=5, start_step=8), 4)]
    assert resumed == full[8:12]   # step 8 straddles the epoch boundary (56 > 50)
