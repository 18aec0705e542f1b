"""Parity: the same (label, noise) gives the same image on every runtime, and
every bad input is refused by every runtime.

Golden inputs: batches of 1, 7, 64 and 256 with labels cycling through 0..9
(every label meets several noise vectors), from a fixed seed.
"""

import itertools
import re

import numpy as np

from model_pkg import contract, runtimes

GOLDEN_BATCH_SIZES = (1, 7, 64, 256)
_GOLDEN_SEED = 7


class ParityError(RuntimeError):
    """Two runtimes disagree beyond the tolerance, or one accepted a bad input."""


def golden_inputs():
    """[(label int32 [n], noise float32 [n,100])] for each golden batch size."""
    rng = np.random.default_rng(_GOLDEN_SEED)
    out = []
    for i, n in enumerate(GOLDEN_BATCH_SIZES):
        labels = ((np.arange(n) + i) % contract.NUM_CLASSES).astype(np.int32)
        out.append((labels, rng.standard_normal((n, contract.NOISE_DIM)).astype(np.float32)))
    return out


def bad_inputs():
    """{case: (label, noise)}: the contract's bad inputs, each as a runtime would get it."""
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((3, contract.NOISE_DIM)).astype(np.float32)
    labels = np.array([1, 2, 3], np.int32)
    nan, inf = noise.copy(), noise.copy()
    nan[1, 5], inf[2, 0] = np.nan, np.inf
    return {
        "label -1": (np.array([-1, 2, 3], np.int32), noise),
        "label 10": (np.array([1, 10, 3], np.int32), noise),
        "label 2**31-1": (np.array([1, 2, 2**31 - 1], np.int32), noise),
        "float labels": (labels.astype(np.float32), noise),
        "noise [N,99]": (labels, noise[:, :99]),
        "noise [N,101]": (labels, np.concatenate([noise, noise[:, :1]], axis=1)),
        "noise [N]": (labels, noise[:, 0]),
        "noise [N,100,1]": (labels, noise[:, :, None]),
        "label [N,1]": (labels[:, None], noise),
        "label scalar": (np.array(3, np.int32), noise[:1]),
        "noise beyond float32": (labels, np.full((3, contract.NOISE_DIM), 1e300)),
        "NaN noise": (labels, nan),
        "Inf noise": (labels, inf),
        "N = 0": (labels[:0], noise[:0]),
        "label and noise of different N": (labels[:2], noise),
    }


def compare(outputs, atol=contract.PARITY_ATOL):
    """Max |a - b| over every pair of runtimes; ParityError above ``atol``.

    Args:
      outputs: {runtime name: [float32 arrays, one per golden batch]}.
    Returns:
      {"atol", "max_abs_diff": {"a vs b": float}, "batch_sizes"}.
    """
    diffs = {}
    for (a, outs_a), (b, outs_b) in itertools.combinations(sorted(outputs.items()), 2):
        diffs[f"{a} vs {b}"] = max(float(np.max(np.abs(x - y))) for x, y in zip(outs_a, outs_b))
    worst = max(diffs.items(), key=lambda kv: kv[1])
    report = {"atol": atol, "max_abs_diff": diffs, "batch_sizes": list(GOLDEN_BATCH_SIZES)}
    if worst[1] > atol:
        raise ParityError(f"{worst[0]}: max |difference| {worst[1]:.3g} > {atol}")
    return report


def run_golden(runtimes):
    """{name: [output per golden batch]} for each runtime's ``generate``; checks shape/range."""
    outputs = {}
    for runtime in runtimes:
        outs = [runtime.generate(label, noise) for label, noise in golden_inputs()]
        for (label, _), out in zip(golden_inputs(), outs):
            expected = (len(label), *contract.IMAGE_SHAPE)
            if out.shape != expected or out.dtype != np.float32:
                raise ParityError(f"{runtime.name}: output {out.dtype}{list(out.shape)}, "
                                  f"expected float32{list(expected)}")
            if out.min() < contract.PIXEL_MIN or out.max() > contract.PIXEL_MAX:
                raise ParityError(f"{runtime.name}: pixels outside [0, 1]")
        outputs[runtime.name] = outs
    return outputs


def check_refusals(callers):
    """Runs every bad input through each caller; all must raise.

    Args:
      callers: {name: callable(label, noise)}.
    Returns:
      {name: {case: first line of the error}}; ParityError if any call returned.
    """
    report = {}
    for name, call in callers.items():
        report[name] = {}
        for case, (label, noise) in bad_inputs().items():
            try:
                call(label, noise)
            except Exception as err:  # noqa: BLE001 - any refusal counts, we record it
                report[name][case] = error_summary(err)
            else:
                raise ParityError(f"{name} returned images for a bad input: {case}")
    return report


def error_summary(err):
    """The informative line of an error: a graph assert's own message where there is one."""
    text = str(err)
    # tf.debugging asserts print "assertion failed: [<message>] [<details>]..."; the
    # message itself holds brackets ("[N, 100]"), so cut at the "] [" that ends it.
    match = re.search(r"assertion failed: \[(.*?)\](?: \[|$)", text, re.MULTILINE)
    if match:
        return f"{type(err).__name__}: {match.group(1)}"
    # tf.debugging.assert_all_finite's message (CheckNumerics) sits deeper in an eager traceback.
    rule = re.search(r"(?:label|noise): must be [^\n]*", text)
    if rule:
        return f"{type(err).__name__}: {rule.group(0)}"
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and line.strip() != "Graph execution error:"]
    return f"{type(err).__name__}: {lines[0][:200] if lines else ''}"


def open_runtimes(generator, staging):
    """{registry name: runtime} for every parity entry, in registry order, opened on the
    staging folder (no manifest yet: verify=False) or on ``generator``."""
    opened = {}
    try:
        for entry in runtimes.entries(parity=True):
            if entry.needs == "generator":
                opened[entry.name] = entry.open(generator)
            else:
                opened[entry.name] = entry.open(staging, verify=False)
    except BaseException:
        close_runtimes(opened)
        raise
    return opened


def close_runtimes(opened):
    """Closes every runtime of {name: runtime} that holds native resources."""
    for runtime in opened.values():
        if hasattr(runtime, "close"):
            runtime.close()


def refusal_callers(opened):
    """{label: callable} the bad inputs go through: run_unchecked where the entry's
    graph checks are proved, generate where the validator is (model_pkg/runtimes.py)."""
    callers = {}
    for name, runtime in opened.items():
        check = runtimes.REGISTRY[name].parity
        if check == "graph":
            callers[f"{runtime.name} (graph checks)"] = runtime.run_unchecked
        elif check == "validator":
            callers[f"{runtime.name} (validator)"] = runtime.generate
    return callers
