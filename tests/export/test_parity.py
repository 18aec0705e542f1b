"""Every runtime draws the same digits within 1e-5 and refuses every bad input."""

import itertools

import numpy as np
import pytest

from model_pkg import contract
from model_pkg.export import parity
from model_pkg.export.exporter import load_trained_generator
from model_pkg.export.manifest import verify_version
from model_pkg.export.runtimes import CApiRuntime, KerasRuntime, OnnxRuntime, SavedModelRuntime


@pytest.fixture(scope="module")
def runtimes(trained_workdir, published):
    _, version_dir = published
    generator = load_trained_generator(trained_workdir)[0]
    c_api = CApiRuntime(version_dir)
    yield {"keras": KerasRuntime(generator), "savedmodel_tf2": SavedModelRuntime(version_dir),
           "savedmodel_c_api": c_api, "onnx": OnnxRuntime(version_dir)}
    c_api.close()


@pytest.fixture(scope="module")
def golden_outputs(runtimes):
    return parity.run_golden(runtimes.values())


def test_golden_inputs_cover_every_label_and_the_batch_sizes():
    batches = parity.golden_inputs()
    assert [len(label) for label, _ in batches] == [1, 7, 64, 256]
    assert set(np.concatenate([label for label, _ in batches]).tolist()) == set(range(10))


@pytest.mark.parametrize("a, b", list(itertools.combinations(
    ["keras", "savedmodel_tf2", "savedmodel_c_api", "onnx"], 2)))
def test_every_pair_of_runtimes_agrees(golden_outputs, a, b):
    for out_a, out_b in zip(golden_outputs[a], golden_outputs[b]):
        np.testing.assert_allclose(out_a, out_b, rtol=0, atol=contract.PARITY_ATOL)


def test_outputs_are_images_in_the_contract_range(golden_outputs):
    for outs in golden_outputs.values():
        for out in outs:
            assert out.dtype == np.float32 and out.shape[1:] == (28, 28, 1)
            assert 0.0 <= out.min() and out.max() <= 1.0


def test_the_manifest_records_the_export_time_parity(published):
    report = verify_version(published[1])["parity"]
    assert report["passed"] and report["atol"] == contract.PARITY_ATOL
    assert len(report["max_abs_diff"]) == 6
    assert max(report["max_abs_diff"].values()) <= contract.PARITY_ATOL


# The input each bad case breaks; a graph that refuses by dtype (before any
# assert runs) names the input by position and the dtype it expects instead
# ("arg[0] to be int32", or TF2's "input #0(zero-based) was expected to be a int32").
_BROKEN_INPUT = {"label -1": "label", "label 10": "label", "label 2**31-1": "label",
                 "float labels": ("label", "#0(zero-based) was expected to be a int32",
                                  "arg[0] to be int32"), "noise [N,99]": "noise",
                 "noise [N,101]": "noise", "noise [N]": "noise", "noise [N,100,1]": "noise",
                 "label [N,1]": "label", "label scalar": "label",
                 "noise beyond float32": ("noise", "#1(zero-based) was expected to be a float",
                                          "arg[1] to be float"),
                 "NaN noise": "noise", "Inf noise": "noise", "N = 0": "label",
                 "label and noise of different N": "noise"}


def test_every_bad_case_names_its_input():
    assert set(_BROKEN_INPUT) == set(parity.bad_inputs())


@pytest.mark.parametrize("case", sorted(parity.bad_inputs()))
def test_bad_input_refused_naming_the_input(runtimes, case):
    label, noise = parity.bad_inputs()[case]
    callers = {"tf2 graph": runtimes["savedmodel_tf2"].run_unchecked,
               "TF Serving's loader (C API) graph": runtimes["savedmodel_c_api"].run_unchecked,
               "onnx client": runtimes["onnx"].generate,
               "tf2 client": runtimes["savedmodel_tf2"].generate}
    words = _BROKEN_INPUT[case]
    for name, call in callers.items():
        with pytest.raises(Exception) as err:
            call(label, noise)
        summary = parity.error_summary(err.value)
        assert any(word in summary for word in (words if isinstance(words, tuple) else
                                                (words,))), f"{name}: {summary}"


@pytest.mark.parametrize("case, input_name", [("label -1", "label"), ("label 10", "label"),
                                              ("label scalar", "label"), ("label [N,1]", "label"),
                                              ("noise [N,100,1]", "noise"),
                                              ("NaN noise", "noise"), ("N = 0", "label"),
                                              ("noise [N]", "noise"),
                                              ("label and noise of different N", "noise")])
def test_graph_assert_messages_name_input_and_rule(runtimes, case, input_name):
    label, noise = parity.bad_inputs()[case]
    with pytest.raises(Exception) as err:
        runtimes["savedmodel_c_api"].run_unchecked(label, noise)
    assert f"{input_name}: must be" in parity.error_summary(err.value)


@pytest.mark.parametrize("label", [-1, -5, -10, -11, 10, 19, 2**31 - 1, -2**31, -2**31 + 9])
def test_raw_onnx_refuses_every_label_outside_0_to_9(runtimes, label):
    # ONNX's Gather reads index -1 as the last row; the graph's check (a Reshape to
    # N + the count of labels outside 0..9) refuses first. int32 extremes
    # must not wrap into range.
    session = runtimes["onnx"].session
    noise = np.zeros((2, contract.NOISE_DIM), np.float32)
    with pytest.raises(Exception, match="Name:'label: must be integers in 0..9"):
        session.run(None, {"label": np.array([3, label], np.int32), "noise": noise})


@pytest.mark.parametrize("label, noise, name", [
    (np.zeros(0, np.int32), np.zeros((0, 100), np.float32), "label: must be"),
    (np.zeros(2, np.int32), np.zeros((3, 100), np.float32), "noise: must be"),
    (np.zeros(3, np.int32), np.zeros((2, 100), np.float32), "noise: must be"),
])
def test_raw_onnx_names_the_input_for_n_0_and_unequal_n(runtimes, label, noise, name):
    with pytest.raises(Exception, match=f"Name:'{name}"):
        runtimes["onnx"].session.run(None, {"label": label, "noise": noise})


@pytest.mark.parametrize("magnitude", [contract.NOISE_CLIP, 1e3, 3e38,
                                       float(np.finfo(np.float32).max)])
def test_extreme_finite_noise_gives_the_same_finite_image_everywhere(runtimes, magnitude):
    rng = np.random.default_rng(5)
    label = np.arange(20, dtype=np.int32) % 10
    noise = (rng.choice([-1.0, 1.0], (20, contract.NOISE_DIM)) * magnitude).astype(np.float32)
    noise[10:] = rng.standard_normal((10, contract.NOISE_DIM)) * 2   # rows only norm-clipped
    noise[15:, 0] = magnitude                                        # one huge value
    outs = {name: rt.generate(label, noise) for name, rt in runtimes.items()}
    outs["raw onnx"] = runtimes["onnx"].session.run(None, {"label": label, "noise": noise})[0]
    for name, out in outs.items():
        assert np.isfinite(out).all() and 0 <= out.min() and out.max() <= 1, name
    for (a, x), (b, y) in itertools.combinations(outs.items(), 2):
        np.testing.assert_allclose(x, y, rtol=0, atol=contract.PARITY_ATOL, err_msg=f"{a} vs {b}")


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_raw_onnx_answers_nan_pixels_for_nan_or_inf_noise_in_that_row_only(runtimes, value):
    # The contract's one exception: raw model.onnx may answer NaN or Inf noise, with NaN
    # pixels; Inf must not be clipped into a digit.
    label = np.array([1, 2, 3], np.int32)
    noise = np.random.default_rng(2).standard_normal((3, contract.NOISE_DIM)).astype(np.float32)
    noise[1, 17] = value
    images = runtimes["onnx"].session.run(None, {"label": label, "noise": noise})[0]
    assert np.isnan(images[1]).all()
    np.testing.assert_allclose(images[[0, 2]], runtimes["onnx"].generate(label[[0, 2]],
                               noise[[0, 2]]), rtol=0, atol=contract.PARITY_ATOL)


def test_noise_inside_the_bound_is_not_changed(runtimes):
    # Training-range noise must reach the generator bit for bit: the bound only
    # touches rows beyond it (the Keras reference, with no graph, is the judge).
    from model_pkg.export.runtimes import clip_noise

    noise = np.random.default_rng(8).standard_normal((64, contract.NOISE_DIM))
    noise[0, 0] = contract.NOISE_CLIP   # at the value bound itself
    noise = noise.astype(np.float32)
    np.testing.assert_array_equal(clip_noise(noise), noise)
    assert np.linalg.norm(clip_noise(np.full((1, 100), 7, np.float32))) == pytest.approx(
        contract.NOISE_NORM_CLIP, rel=1e-6)


def test_compare_raises_above_tolerance():
    a = [np.zeros((2, 28, 28, 1), np.float32)]
    with pytest.raises(parity.ParityError, match="a vs b: max \\|difference\\| 0.001"):
        parity.compare({"a": a, "b": [a[0] + 1e-3]})
