"""How good the digits are, measured with the evaluator classifier (never the GAN's D).

On 10,000 generated digits (1,000 per label, fixed noise):
  label accuracy   share the classifier reads as the asked label (overall, worst label),
                   beside the classifier's accuracy on the real test digits
  Fréchet distance on the classifier's 128-d features vs the 10,000 real test digits,
                   beside two floors: the same distance for 10,000 real training digits
                   drawn at random ("floor") and drawn 1,000 per label like the generated
                   set ("fair floor": the test set is not balanced, so a perfect balanced
                   generator would not reach the random floor)
  coverage         Naeem et al. 2020, k=5: share of real test digits whose 5-NN ball
                   holds a generated one, beside the same for both real training draws
  entropy          mean softmax entropy (nats) of the classifier per label, on generated
                   and on real test digits: lower on generated ones means digits more
                   typical than real handwriting (the K+1 objective's bias)
  CAS              Ravuri & Vinyals 2019: a fresh classifier trained only on 60,000
                   generated digits, tested on the real test digits (slow; optional)
"""

import numpy as np

from model_pkg import contract
from model_pkg.eval import classifier as evaluator

EVAL_PER_LABEL = 1_000
CAS_PER_LABEL = 6_000
_EVAL_NOISE_SEED = 31_337
_COVERAGE_K = 5


def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to feature sets a, b [N, D]."""
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    # Tr(sqrt(A B)) = sum sqrt(eig(sqrt(A) B sqrt(A))), all symmetric: eigh is exact enough.
    vals, vecs = np.linalg.eigh(cov_a)
    root_a = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    cross = np.linalg.eigvalsh(root_a @ cov_b @ root_a)
    trace_sqrt = np.sqrt(np.clip(cross, 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_sqrt)


def sq_dists(a, b):
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T, 0)


def coverage(real, fake, k=_COVERAGE_K, chunk=2_000):
    """Naeem et al. 2020: share of real points with a fake point inside their k-NN radius."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)
    radii = np.empty(len(real))
    nearest_fake = np.empty(len(real))
    for start in range(0, len(real), chunk):
        block = real[start:start + chunk]
        # k+1: the nearest real neighbour of a real point is itself.
        radii[start:start + chunk] = np.sort(sq_dists(block, real), axis=1)[:, k]
        nearest_fake[start:start + chunk] = sq_dists(block, fake).min(axis=1)
    return float(np.mean(nearest_fake < radii))


def eval_inputs(per_label=EVAL_PER_LABEL, seed=_EVAL_NOISE_SEED):
    """(labels int32 [10*per_label], noise float32 [.., 100]): fixed for every model."""
    labels = np.repeat(np.arange(contract.NUM_CLASSES, dtype=np.int32), per_label)
    noise = np.random.default_rng(seed).standard_normal((len(labels), contract.NOISE_DIM))
    return labels, noise.astype(np.float32)


def generate_all(generate, labels, noise, batch=250):
    return np.concatenate([generate(labels[i:i + batch], noise[i:i + batch])
                           for i in range(0, len(labels), batch)])


def real_reference(classifier, mnist):
    """The real test digits' features, labels and entropies, and both floors."""
    test_predicted, test_features, test_entropy = evaluator.predict(
        classifier, evaluator.to_unit(mnist.x_test))
    ref = {"test": test_features, "test_labels": mnist.y_test}
    for name, pick in (("", _random_draw(mnist)), ("_fair", _balanced_draw(mnist))):
        _, features, _ = evaluator.predict(classifier, evaluator.to_unit(mnist.x_train[pick]))
        ref[f"fd_floor{name}"] = frechet_distance(features, test_features)
        ref[f"coverage_real{name}"] = coverage(test_features, features)
    per_label = _per_label(test_predicted == mnist.y_test, mnist.y_test)
    ref |= {"real_accuracy": float(np.mean(test_predicted == mnist.y_test)),
            "real_worst_label_accuracy": min(per_label),
            "entropy_real": _per_label(test_entropy, mnist.y_test)}
    return ref


def _random_draw(mnist):
    """10,000 training digits at random (the first floor; its label shares are the data's)."""
    return np.random.default_rng(0).choice(len(mnist.x_train), contract.MNIST_TEST_SIZE,
                                           replace=False)


def _balanced_draw(mnist):
    """1,000 training digits of each label, at random: drawn like the generated set."""
    rng = np.random.default_rng(1)
    return np.concatenate([rng.choice(np.flatnonzero(mnist.y_train == d), EVAL_PER_LABEL,
                                      replace=False) for d in range(contract.NUM_CLASSES)])


def _per_label(values, labels):
    return [float(np.mean(values[labels == d])) for d in range(contract.NUM_CLASSES)]


def fast_metrics(generate, classifier, reference):
    """Label accuracy, Fréchet distance, coverage and entropies of ``generate(labels, noise)``.

    ``frechet_ratio`` and ``coverage_ratio`` (the blessing's) use the random floor;
    the ``_fair_`` ones the balanced floor, which the quality targets use.
    """
    labels, noise = eval_inputs()
    predicted, features, entropy = evaluator.predict(classifier,
                                                     generate_all(generate, labels, noise))
    per_label = _per_label(predicted == labels, labels)
    fd = frechet_distance(features, reference["test"])
    cov = coverage(reference["test"], features)
    entropy_generated = _per_label(entropy, labels)
    return {
        "label_accuracy": float(np.mean(predicted == labels)),
        "worst_label_accuracy": min(per_label), "worst_label": int(np.argmin(per_label)),
        "real_accuracy": reference["real_accuracy"],
        "real_worst_label_accuracy": reference["real_worst_label_accuracy"],
        "frechet_distance": fd, "frechet_floor": reference["fd_floor"],
        "frechet_ratio": fd / reference["fd_floor"],
        "frechet_fair_floor": reference["fd_floor_fair"],
        "frechet_fair_ratio": fd / reference["fd_floor_fair"],
        "coverage": cov, "coverage_real": reference["coverage_real"],
        "coverage_ratio": cov / reference["coverage_real"],
        "coverage_real_fair": reference["coverage_real_fair"],
        "coverage_fair_ratio": cov / reference["coverage_real_fair"],
        "entropy_generated": [round(e, 5) for e in entropy_generated],
        "entropy_real": [round(e, 5) for e in reference["entropy_real"]],
        "entropy_ratio": float(np.mean(entropy_generated) / np.mean(reference["entropy_real"])),
        "samples": int(len(labels)),
    }


def cas(generate, mnist, real_accuracy, config=evaluator.EvaluatorConfig()):
    """Classification accuracy score: train on 60,000 generated digits, test on real ones."""
    labels, noise = eval_inputs(CAS_PER_LABEL, seed=_EVAL_NOISE_SEED + 1)
    images = generate_all(generate, labels, noise)
    _, accuracy = evaluator.train_classifier(images, labels, config,
                                             evaluator.to_unit(mnist.x_test), mnist.y_test)
    return {"cas": accuracy, "real_trained_accuracy": real_accuracy,
            "cas_gap_points": 100 * (real_accuracy - accuracy)}
