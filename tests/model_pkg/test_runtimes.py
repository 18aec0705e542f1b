"""The runtime registry drives the CLI, open_client, the parity gate and the bench.

A toy runtime (ONNX Runtime behind the validator, defined here) registered in a
test appears in `generate --runtime`, opens through open_client, joins the parity
gate and gets a bench row, without any other file knowing its name.
"""

import json
import os

import numpy as np
import pytest

from model_pkg import cli, contract, runtimes
from model_pkg.validation import InputError, validate_inputs


class ToyOnnx:
    """A runtime of the test's own: model.onnx in ONNX Runtime, validated, counting calls."""

    name = "toy"
    calls = 0

    def __init__(self, path, verify=True):
        import onnxruntime as ort

        self.session = ort.InferenceSession(os.path.join(path, contract.ONNX_NAME),
                                            providers=["CPUExecutionProvider"])

    def run_unchecked(self, label, noise):
        type(self).calls += 1
        return self.session.run(None, {contract.LABEL_KEY: label,
                                       contract.NOISE_KEY: noise})[0]

    def generate(self, label, noise):
        return self.run_unchecked(*validate_inputs(label, noise))


@pytest.fixture
def toy():
    """The toy registered (parity gate by its validator, bench row "toy_row") for one
    test; the registry restored afterwards."""
    saved = dict(runtimes.REGISTRY)
    ToyOnnx.calls = 0
    yield runtimes.register(runtimes.Entry("toy", f"{__name__}:ToyOnnx", "version",
                                           parity="validator", bench="toy_row"))
    runtimes.REGISTRY.clear()
    runtimes.REGISTRY.update(saved)


def _runtime_choices():
    generate = cli.build_parser()._subparsers._group_actions[0].choices["generate"]
    return next(a for a in generate._actions if a.dest == "runtime").choices


def test_the_cli_offers_exactly_the_registry_runtimes_users_can_open():
    assert tuple(_runtime_choices()) == runtimes.names(usable=True)
    assert {"onnx", "savedmodel", "rest", "grpc"} <= set(runtimes.names(usable=True))
    assert "keras" not in runtimes.names(usable=True)   # needs a Keras generator


def test_every_built_in_entry_loads_a_generator_class():
    for entry in runtimes.entries():
        cls = entry.load()
        assert isinstance(cls.name, str) and callable(cls.generate), entry.name
        assert entry.remote == (entry.needs in ("url", "target"))
    for entry in runtimes.entries(parity=True) + runtimes.entries(bench=True):
        assert not entry.remote and callable(entry.load().run_unchecked), entry.name


def test_bad_entries_and_names_are_refused_with_the_rule():
    with pytest.raises(ValueError, match="needs 'gpu' must be one of"):
        runtimes.Entry("x", "m:C", "gpu")
    with pytest.raises(ValueError, match="parity 'all' must be None or one of"):
        runtimes.Entry("x", "m:C", "version", parity="all")
    with pytest.raises(ValueError, match="must be 'module:Class'"):
        runtimes.Entry("x", "m.C", "version")
    with pytest.raises(ValueError, match="'onnx' is already registered"):
        runtimes.register(runtimes.Entry("onnx", "m:C", "version"))
    with pytest.raises(ValueError, match="--runtime 'keras': must be one of savedmodel"):
        runtimes.get("keras", usable=True)


def test_the_published_parity_report_covers_the_registry_parity_entries(published):
    manifest = json.load(open(os.path.join(published[1], contract.MANIFEST_NAME)))
    report = manifest["parity"]
    pairs = {name for pair in report["max_abs_diff"] for name in pair.split(" vs ")}
    assert pairs == {entry.load().name for entry in runtimes.entries(parity=True)}
    refusers = {key.split(" ")[0] for key in report["bad_inputs_refused"]}
    assert refusers == {entry.load().name for entry in runtimes.entries(parity=True)
                        if entry.parity in ("graph", "validator")}


def test_a_registered_runtime_is_offered_and_draws_with_generate(toy, published, tmp_path):
    from model_pkg.export.runtimes import OnnxRuntime
    from model_pkg.serving.generate import open_client

    assert "toy" in _runtime_choices()
    out = tmp_path / "toy.png"
    assert cli.main(["generate", "--runtime", "toy", "--model", published[1],
                     "--labels", "1,7", "--per-label", "2", "--out", str(out)]) == 0
    assert out.stat().st_size > 0 and ToyOnnx.calls == 1
    client = open_client("toy", model=published[1])
    assert isinstance(client, runtimes.Generator)
    label, noise = np.array([3, 4], np.int32), np.zeros((2, contract.NOISE_DIM), np.float32)
    np.testing.assert_array_equal(client.generate(label, noise),
                                  OnnxRuntime(published[1]).generate(label, noise))
    with pytest.raises(InputError, match="label: must be integers in 0..9"):
        client.generate(np.array([10, 4]), noise)


def test_a_registered_runtime_joins_the_parity_gate(toy, trained_workdir, published):
    from model_pkg.export import parity
    from model_pkg.export.exporter import load_trained_generator

    opened = parity.open_runtimes(load_trained_generator(trained_workdir)[0], published[1])
    try:
        assert list(opened) == list(runtimes.names(parity=True)) and "toy" in opened
        assert all(isinstance(runtime, runtimes.Generator) for runtime in opened.values())
        assert "toy (validator)" in parity.refusal_callers(opened)
        report = parity.compare(parity.run_golden(list(opened.values())))
    finally:
        parity.close_runtimes(opened)
    assert "onnx vs toy" in report["max_abs_diff"]


def test_the_bench_times_the_registry_bench_entries_raw(toy, trained_workdir, published):
    from model_pkg.benchmarks import inference
    from model_pkg.export.exporter import load_trained_generator

    generator = load_trained_generator(trained_workdir)[0]
    calls, macs, _ = inference.runtime_calls(published[1], generator)
    rows = [entry.bench for entry in runtimes.entries(bench=True)]
    assert list(calls)[:len(rows)] == rows and "toy_row" in rows and set(macs) == set(calls)
    assert calls["toy_row"].__func__ is ToyOnnx.run_unchecked
    label, noise = np.array([1, 2], np.int32), np.zeros((2, contract.NOISE_DIM), np.float32)
    noise[0, 0] = np.nan
    assert np.isnan(calls["onnx_cpu"](label, noise)).any()   # raw: no validator in front
    with pytest.raises(InputError, match="noise: must be finite"):
        calls["onnx_client"](label, noise)


def test_a_runtime_whose_extra_is_missing_names_the_extra():
    ghost = runtimes.Entry("ghost", "model_pkg_no_such_module:Ghost", "version", extra="ghost")
    with pytest.raises(runtimes.MissingExtra, match=r"pip install 'model-pkg\[ghost\]'"):
        ghost.open("anywhere")
    with pytest.raises(ImportError):   # without an extra, an import error stays one
        runtimes.Entry("ghost", "model_pkg_no_such_module:Ghost", "version").open("anywhere")


def test_openvino_draws_the_onnx_digits_through_generate(published):
    pytest.importorskip("openvino", reason="OpenVINO is an optional extra (model-pkg[openvino])")
    from model_pkg.serving.generate import open_client

    label, noise = np.arange(10, dtype=np.int32), np.ones((10, contract.NOISE_DIM), np.float32)
    openvino = open_client("openvino", model=published[1])
    assert openvino.precision == "f32"
    np.testing.assert_allclose(openvino.generate(label, noise),
                               open_client("onnx", model=published[1]).generate(label, noise),
                               rtol=0, atol=contract.PARITY_ATOL)
    with pytest.raises(InputError, match="noise: must be finite"):
        openvino.generate(label, noise * np.inf)
