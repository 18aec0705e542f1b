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
    assert sorted(set(sizes)) == [1, 16, 64, 256]
