"""The artifacts' signatures and warmup records, read with the real tools."""

import os

import numpy as np
import onnx
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from model_pkg import contract


def test_savedmodel_signature_def_has_the_contract_names(published):
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(published[1], "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    (meta_graph,) = [mg for mg in proto.meta_graphs if "serve" in mg.meta_info_def.tags]
    sig = meta_graph.signature_def["serving_default"]
    dims = lambda info: [d.size for d in info.tensor_shape.dim]  # noqa: E731
    assert sorted(sig.inputs) == ["label", "noise"] and list(sig.outputs) == ["images"]
    assert sig.inputs["label"].dtype == tf.int32.as_datatype_enum and dims(
        sig.inputs["label"]) == [-1]
    assert sig.inputs["noise"].dtype == tf.float32.as_datatype_enum and dims(
        sig.inputs["noise"]) == [-1, 100]
    assert dims(sig.outputs["images"]) == [-1, 28, 28, 1]


def test_onnx_graph_is_valid_with_named_dynamic_batch(published):
    model = onnx.load(os.path.join(published[1], "model.onnx"))
    onnx.checker.check_model(model)
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [17]
    shape = lambda v: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]  # noqa
    inputs = {v.name: v for v in model.graph.input}
    assert shape(inputs["label"]) == ["N"] and shape(inputs["noise"]) == ["N", 100]
    assert [v.name for v in model.graph.output] == ["images"]
    assert shape(model.graph.output[0]) == ["N", 28, 28, 1]
    assert "Assert" not in {node.op_type for node in model.graph.node}


def test_warmup_records_are_valid_prediction_logs(published):
    path = os.path.join(published[1], contract.WARMUP_RELPATH)
    labels, sizes = set(), []
    for record in tf.data.TFRecordDataset(path):
        log = prediction_log_pb2.PredictionLog.FromString(record.numpy())
        request = log.predict_log.request
        assert request.model_spec.name == "cgan"
        assert request.model_spec.signature_name == "serving_default"
        label = tf.make_ndarray(request.inputs["label"])
        noise = tf.make_ndarray(request.inputs["noise"])
        assert label.dtype == np.int32 and noise.dtype == np.float32
        assert noise.shape == (len(label), 100) and np.isfinite(noise).all()
        labels.update(label.tolist())
        sizes.append(len(label))
    assert labels == set(range(10)) and sizes.count(1) == 10
    assert sorted(set(sizes)) == [1, 2, 4, 8, 16, 32, 64, 128, 256]


def test_warmup_replays_through_tf_servings_loader(published):
    # TF Serving replays these at load and a failing record fails the load
    # (servables/tensorflow/saved_model_warmup.cc, RunWarmupRequest).
    from model_pkg.export.tf_c_api import CApiRuntime, replay_warmup

    runtime = CApiRuntime(published[1])
    try:
        sizes = replay_warmup(runtime, published[1])
    finally:
        runtime.close()
    assert len(sizes) == 18 and max(sizes) == 256


def test_the_savedmodel_batches_inside_the_graph_after_the_checks(published):
    # export/signature.py: per-request asserts first, then TensorFlow's
    # BatchFunction op around the generator alone.
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    with open(os.path.join(published[1], "saved_model.pb"), "rb") as handle:
        proto.ParseFromString(handle.read())
    graph = proto.meta_graphs[0].graph_def
    functions = {f.signature.name: f for f in graph.library.function}
    batch_ops = [(name, node) for name, f in functions.items() for node in f.node_def
                 if node.op == "BatchFunction"]
    assert len(batch_ops) == 1
    outer, node = batch_ops[0]
    assert any(n.op == "Assert" for n in functions[outer].node_def)
    inner = functions[node.attr["f"].func.name]
    assert not any(n.op in ("Assert", "CheckNumerics") for n in inner.node_def)
    assert list(node.attr["allowed_batch_sizes"].list.i)[-1] == 256
    assert node.attr["max_batch_size"].i == contract.MAX_REQUEST_ROWS
    assert node.attr["enable_large_batch_splitting"].b
