"""`model-pkg bench --quick` end to end: every section filled, every runtime agreeing."""

import json

import numpy as np
import pytest

from model_pkg.benchmarks import inference, report, suite


def test_quick_bench_writes_both_reports(tmp_path):
    out_json, out_md = tmp_path / "bench.json", tmp_path / "BENCHMARKS.md"
    results = suite.main(str(out_json), str(out_md), quick=True, log=lambda *_: None)
    saved = json.loads(out_json.read_text())
    assert saved["ratios"] == json.loads(json.dumps(results["ratios"]))
    assert set(saved["inference"]) >= {"keras", "savedmodel_tf", "onnx_cpu", "onnx_client",
                                       "onnx_cpu_tf2onnx", "openvino_f32", "openvino_default"}
    for per_batch in saved["inference"].values():
        for stats in per_batch.values():
            assert stats["calls"] >= 5 and 0 < stats["p50_ms"] <= stats["p99_ms"]
            assert stats["max_abs_diff"] >= 0 and stats["executed_gflops"] > 0
    onnx_cpu, keras = saved["inference"]["onnx_cpu"]["8"], saved["inference"]["keras"]["8"]
    assert onnx_cpu["executed_macs_per_image"] < keras["executed_macs_per_image"] == 8_021_888
    assert saved["inference"]["openvino_f32"]["8"]["max_abs_diff"] <= 1e-4
    assert saved["peers"]["openvino_precision"]["openvino_f32"] == "f32"
    assert all(v > 1 for v in saved["sgemm_gflops"].values())
    assert saved["training_run"]["peak_rss_mib"] > 100
    assert saved["client_batch1024_peak_rss_mib"] > 50
    assert [t["preset"] for t in saved["training"]] == ["seed", "default"]
    assert [(r["replicas"], len(r["devices"])) for r in saved["distributed"]] == [(1, 1), (2, 2)]
    assert all(r["steps_per_s"] > 0 for r in saved["distributed"])
    serving = saved["serving_batching"]
    assert set(serving) == {"no batching", "in-graph batching"}
    for per_callers in serving.values():
        assert set(per_callers) == {"1", "8"}
        assert all(row["images_per_s"] > 0 and row["p50_ms"] <= row["p99_ms"]
                   for row in per_callers.values())
    text = out_md.read_text()
    assert "| onnx_cpu | 8 |" in text and "## Targets" in text and "sgemm" in text
    assert "| openvino_f32 | 8 |" in text and "| onnx_cpu_over_openvino_f32_b1 |" in text
    assert "## Serving: concurrent batch-1 callers" in text and "| 8 |" in text
    assert "## Training on 1 and 2 tf.distribute replicas" in text


def test_bench_refuses_runtimes_that_disagree():
    same = np.zeros((2, 28, 28, 1), np.float32)
    inference.check_agreement({"a": same, "b": same + 5e-5}, 2)
    with pytest.raises(AssertionError, match="b differs from a by 0.001"):
        inference.check_agreement({"a": same, "b": same + 1e-3}, 2)


def test_stats_percentiles():
    stats = inference._stats([0.001] * 99 + [0.1], batch=10)
    assert stats["p50_ms"] == 1.0 and stats["p99_ms"] == 1.0 and stats["images_per_s"] == 10_000
    stats = inference._stats([0.001] * 98 + [0.1, 0.1], batch=10)
    assert stats["p99_ms"] == 100.0
    assert report.TARGETS["onnx_cpu_p50_ms_b1"] == 0.2


def test_preset_time_compares_full_runs_with_the_seeds():
    from model_pkg.benchmarks import preset_time
    from model_pkg.config import DEFAULT, SEED

    out = preset_time.measure({"seed": SEED, "default": DEFAULT}, rounds=2, steps=2)
    assert out["seed"]["full_run_over_seed"] == 1.0
    assert len(out["default"]["steps_per_s"]) == 2 and out["default"]["steps"] == DEFAULT.steps
    assert out["default"]["full_run_over_seed"] > 0
    assert {"seed", "default"} < set(preset_time.candidates())


def test_executed_multiply_adds_come_from_the_graph(tmp_path):
    from model_pkg import networks
    from model_pkg.config import SEED
    from model_pkg.export import artifacts

    generator = networks.build_generator(SEED)
    rewritten = artifacts.write_onnx(generator, str(tmp_path / "r.onnx"), SEED)
    # export/onnx_graph.py's docstring: Gemm, the 4 phase convs, the 4 last convs.
    assert inference.executed_macs_per_image(rewritten) == 313_600 + 3_211_264 + 802_816
    straight = artifacts.write_onnx(generator, str(tmp_path / "s.onnx"), builder="tf2onnx")
    with pytest.raises(ValueError, match="no static shape|ConvTranspose"):
        inference.executed_macs_per_image(straight)


def test_loose_rows_are_measured_not_refused():
    same = np.zeros((4, 28, 28, 1), np.float32)
    calls = {"onnx_cpu": lambda y, z: same, "bf16": lambda y, z: same + 0.03}
    out = inference.measure(calls, batches=(4,), seconds_per_cell=0.01, loose=("bf16",))
    assert out["bf16"][4]["max_abs_diff"] == pytest.approx(0.03)
    assert out["onnx_cpu"][4]["max_abs_diff"] == 0
    with pytest.raises(AssertionError, match="bf16 differs from onnx_cpu"):
        inference.measure(calls, batches=(4,), seconds_per_cell=0.01)
