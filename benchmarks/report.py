"""Ratios against the targets and the Markdown report of a ``model-pkg bench`` run."""

import json

from model_pkg.benchmarks import inference

TARGETS = {
    "onnx_cpu_over_savedmodel_b256": 1.5,   # ONNX Runtime CPU vs TensorFlow, batch 256
    "onnx_cpu_share_of_sgemm_b256": 0.60,   # of the machine's float32 matmul peak
    "onnx_cpu_p50_ms_b1": 0.2,              # at or under
    "onnx_cpu_over_openvino_f32_b256": 1.0,  # the peer a CPU user would pick, same file
    "onnx_cpu_over_openvino_f32_b1": 1.0,
    "training_over_reference": 1.5,         # package steps/s vs the plain loop, batch 64
}


def ratios(results):
    """The numbers the targets are stated in."""
    inf = results["inference"]
    batches = next(iter(inf.values()))
    big = 256 if 256 in batches else max(batches)   # 256 in a full run; --quick has no 256
    peak = max(results["sgemm_gflops"].values())
    out = {
        "onnx_cpu_over_savedmodel_b256": _ratio(inf, "onnx_cpu", "savedmodel_tf", big),
        "onnx_cpu_over_tf2onnx_b256": _ratio(inf, "onnx_cpu", "onnx_cpu_tf2onnx", big),
        "onnx_cpu_share_of_sgemm_b256": round(inf["onnx_cpu"][big]["gflops"] / peak, 3),
        "onnx_cpu_executed_share_of_sgemm_b256":
            round(inf["onnx_cpu"][big]["executed_gflops"] / peak, 3),
        "onnx_cpu_over_openvino_f32_b256": _ratio(inf, "onnx_cpu", "openvino_f32", big),
        "onnx_cpu_over_openvino_f32_b1": _ratio(inf, "onnx_cpu", "openvino_f32", 1),
        "onnx_cpu_over_openvino_default_b256": _ratio(inf, "onnx_cpu", "openvino_default", big),
        "onnx_cpu_p50_ms_b1": inf["onnx_cpu"][1]["p50_ms"],
        "training_over_reference": {t["preset"]: t["ratio_package_over_reference"]
                                    for t in results["training"]},
    }
    for batch in (64, 1024):
        if batch in inf["onnx_cpu"]:
            out[f"onnx_cpu_over_savedmodel_b{batch}"] = _ratio(inf, "onnx_cpu",
                                                               "savedmodel_tf", batch)
    return out


def _ratio(inf, a, b, batch):
    if a not in inf or b not in inf or batch not in inf[b]:
        return None
    return round(inf[a][batch]["images_per_s"] / inf[b][batch]["images_per_s"], 3)


def markdown(results):
    """BENCHMARKS.md: the tables of one run, the targets, the raw JSON."""
    m, peak = results["machine"], max(results["sgemm_gflops"].values())
    lines = ["# Benchmarks", "",
             f"One run of `{results['command']}` on {m['cpu']} ({m['cores']} cores), "
             f"CUDA usable: {m['cuda_usable']}. sgemm peak (2048x2048 float32): "
             + ", ".join(f"{k} {v} GFLOP/s" for k, v in results["sgemm_gflops"].items())
             + f". {_work_sentence(results)} Runtimes were interleaved in one process.",
             "", "## Inference", "",
             "Runtimes: `keras` = the Keras generator called eagerly; `savedmodel_tf` = the "
             "SavedModel's `serving_default` via `tf.saved_model.load` (in-graph checks included); "
             "`onnx_cpu` = the published `model.onnx` (rewritten, export/onnx_graph.py) in ONNX "
             "Runtime with default session options; `onnx_client` = the same through `OnnxClient` "
             "(manifest-verified, input validation included); `onnx_cpu_tf2onnx` = a straight "
             "tf2onnx export of the same weights, the baseline the rewrites are measured against; "
             f"{_peer_sentence(results.get('peers', {}))}",
             "",
             "| runtime | batch | images/s | p50 ms | p99 ms | GFLOP/s nominal | share of peak, "
             "nominal | share of peak, executed | max diff from onnx_cpu |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, per in results["inference"].items():
        for batch, s in per.items():
            lines.append(f"| {name} | {batch} | {s['images_per_s']:,.0f} | {s['p50_ms']:.3f} | "
                         f"{s['p99_ms']:.3f} | {s['gflops']:.1f} | {s['gflops'] / peak:.0%} | "
                         f"{s['executed_gflops'] / peak:.0%} | {s['max_abs_diff']:.1e} |")
    lines += _target_lines(results["ratios"])
    lines += _serving_lines(results.get("serving_batching"))
    lines += ["", "## Training (batch 64, steps/s per round, interleaved)", "",
              "| preset | reference loop | package | median ratio |", "| --- | --- | --- | ---: |"]
    for t in results["training"]:
        lines.append(f"| {t['preset']} | {t['reference_steps_per_s']} | "
                     f"{t['package_steps_per_s']} | {t['ratio_package_over_reference']} |")
    lines += _distributed_lines(results.get("distributed"))
    lines += ["", "## Memory, export, session start", "",
              f"- `model-pkg train`, default preset, {results['settings']['train_steps']} steps "
              "in a "
              f"fresh process ({results['training_run']['steps_per_second']} steps/s with start-up "
              f"and tracing): peak RSS {results['training_run']['peak_rss_mib']} MiB",
              f"- ONNX client generating batch 1024: peak RSS "
              f"{results['client_batch1024_peak_rss_mib']} MiB",
              f"- export: {json.dumps(results['export'])}",
              f"- ONNX Runtime session start (ms, median of 20): "
              f"{json.dumps(results['onnx_session_start_ms'])}",
              "", "## Raw results", "", "```json", json.dumps(results, indent=1), "```", ""]
    return "\n".join(lines)


def _work_sentence(results):
    """What the GFLOP/s columns count: the nominal work, and what each graph executes."""
    executed = sorted({s["executed_macs_per_image"] for per in results["inference"].values()
                       for s in per.values()})
    return ("GFLOP/s count the seed generator's nominal 8,021,888 multiply-adds (16.04 MFLOP) "
            "per image for every runtime, as the targets do; the executed share counts, for the "
            "rows that run model.onnx, the multiply-adds its graph really does: "
            + ", ".join(f"{m:,}" for m in executed if m != inference.NOMINAL_MACS)
            + " per image (the rewritten graph skips the zero taps of the upsampled "
            "convolutions; export/onnx_graph.py). The Keras, SavedModel and tf2onnx rows are "
            "counted at the nominal work.")


def _peer_sentence(peers):
    """The OpenVINO rows, or why there are none (benchmarks/peers.py)."""
    if "openvino_precision" not in peers:
        return f"OpenVINO: {peers.get('openvino', 'not measured')}."
    precision = peers["openvino_precision"]
    return (f"`openvino_f32` / `openvino_default` = the same model.onnx in OpenVINO "
            f"{peers['openvino']} (CPU plugin, PERFORMANCE_HINT=LATENCY), with "
            f"INFERENCE_PRECISION_HINT=f32 ({precision['openvino_f32']}) and with its default "
            f"precision on this CPU ({precision['openvino_default']}; its difference is "
            "recorded, not checked).")


def _serving_lines(rows):
    """Concurrent batch-1 callers through TF Serving's loader (benchmarks/serving_batching.py)."""
    if not rows:
        return []
    lines = ["", "## Serving: concurrent batch-1 callers through TF Serving's loader", "",
             "The shipped SavedModel (per-request checks, then TensorFlow's BatchFunction op) "
             "against the same graph without the batcher, both loaded by "
             "tensorflow::LoadSavedModel (C API) and called from K Python threads in this process "
             "(they share the cores with TensorFlow; the ratio is the point). "
             "docs/tf_serving.md has the decision.", "",
             "| callers | no batching images/s | in-graph batching images/s | ratio | "
             "p50 ms (none / in-graph) | p99 ms (none / in-graph) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    plain, batched = rows["no batching"], rows["in-graph batching"]
    for k in plain:
        a, b = plain[k], batched[k]
        lines.append(f"| {k} | {a['images_per_s']:,.0f} | {b['images_per_s']:,.0f} | "
                     f"{b['images_per_s'] / a['images_per_s']:.2f}x | {a['p50_ms']:.2f} / "
                     f"{b['p50_ms']:.2f} | {a['p99_ms']:.2f} / {b['p99_ms']:.2f} |")
    return lines


def _distributed_lines(rows):
    """Steps/s at 1 and 2 tf.distribute replicas (benchmarks/distributed_speed.py)."""
    if not rows:
        return []
    lines = ["", "## Training on 1 and 2 tf.distribute replicas (MirroredStrategy)", "",
             "Same seed model and global batch; each row a fresh process. On a CPU machine the "
             "2 replicas are logical devices sharing the same cores, so they cannot be faster: "
             "the row shows the distributed step's cost (docs/distributed.md).", "",
             "| replicas | devices | global batch | steps/s |", "| ---: | --- | ---: | ---: |"]
    for row in rows:
        lines.append(f"| {row['replicas']} | {', '.join(row['devices'])} | "
                     f"{row['global_batch']} | {row['steps_per_s']} |")
    return lines


def _target_lines(r):
    lines = ["", "## Targets", "", "| measure | target | this run |", "| --- | ---: | ---: |"]
    for key, target in TARGETS.items():
        value = r[key]
        if value is None:
            value = "n/a (runtime not installed)"
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        lines.append(f"| {key} | {'<=' if key.endswith('_ms_b1') else '>='} {target} | {value} |")
    return lines
