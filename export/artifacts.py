"""Writers of a version's files: SavedModel, TF Serving warmup records, ONNX.

Each writer takes the Keras generator (tanh output) and a destination inside
a staging folder; nothing here decides versions or touches published folders.
"""

import os

import numpy as np

from model_pkg import contract
from model_pkg.export.signature import BATCHING, make_serving_fn, serving_specs

# Opset 17: inside tf2onnx 1.17's table (it ends at 18) and run by every
# target runtime (ONNX Runtime CPU/CUDA, -web, -node); every op either graph
# uses (Gather, Gemm, Conv, DepthToSpace, LeakyRelu, Sigmoid; tf2onnx's OneHot,
# ConvTranspose, Tile, Clip) is unchanged since opset 13.
ONNX_OPSET = 17
# How model.onnx is written: "rewritten" (export/onnx_graph.py, the fast graph
# users get) or "tf2onnx" (the straight conversion: the exporter's choice for a
# generator the rewrite does not mirror, onnx_graph.supports; also the benchmark's
# baseline and a second opinion in the tests).
ONNX_BUILDERS = ("rewritten", "tf2onnx")
# Warmup covers every label at batch 1 and the batch sizes the in-graph
# batcher pads to, so no request pays for a first-time kernel setup.
WARMUP_BATCH_SIZES = BATCHING.allowed_batch_sizes
_WARMUP_SEED = 20240


def write_savedmodel(generator, path, batching=BATCHING):
    """SavedModel at ``path`` with signature serving_default (in-graph checks, then
    the in-graph batcher unless ``batching`` is None; export/signature.py says why).

    Written with Keras's ExportArchive: tf.saved_model.save of a Keras 3 model
    gives a SavedModel that TF Serving's loader cannot restore (keras#20095).
    """
    import keras

    archive = keras.export.ExportArchive()
    archive.track(generator)
    archive.add_endpoint(name=contract.SIGNATURE_NAME,
                         fn=make_serving_fn(generator, batching=batching),
                         input_signature=serving_specs())
    archive.write_out(path, verbose=False)


def warmup_inputs():
    """[(label int32 [n], noise float32 [n,100])] replayed by TF Serving at load."""
    rng = np.random.default_rng(_WARMUP_SEED)
    batches = [(np.array([d], np.int32), rng.standard_normal((1, contract.NOISE_DIM)))
               for d in range(contract.NUM_CLASSES)]
    for n in WARMUP_BATCH_SIZES[1:]:
        labels = (np.arange(n) % contract.NUM_CLASSES).astype(np.int32)
        batches.append((labels, rng.standard_normal((n, contract.NOISE_DIM))))
    return [(label, noise.astype(np.float32)) for label, noise in batches]


def write_warmup(version_dir):
    """assets.extra/tf_serving_warmup_requests: a TFRecord of PredictionLogs."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2, prediction_log_pb2

    path = os.path.join(version_dir, contract.WARMUP_RELPATH)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for label, noise in warmup_inputs():
            request = predict_pb2.PredictRequest()
            request.model_spec.name = contract.MODEL_NAME
            request.model_spec.signature_name = contract.SIGNATURE_NAME
            request.inputs[contract.LABEL_KEY].CopyFrom(tf.make_tensor_proto(label))
            request.inputs[contract.NOISE_KEY].CopyFrom(tf.make_tensor_proto(noise))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def write_onnx(generator, path, config=None, builder="rewritten"):
    """model.onnx: the serving function without asserts; batch dimension named N.

    builder "rewritten" needs the training ``config`` (leaky slope, activation).
    """
    import onnx

    if builder == "rewritten":
        from model_pkg.export.onnx_graph import build_model

        onnx.save(build_model(generator, config, ONNX_OPSET), path)
        return path
    if builder != "tf2onnx":
        raise ValueError(f"builder={builder!r}: must be one of {ONNX_BUILDERS}")
    import tf2onnx

    model, _ = tf2onnx.convert.from_function(
        make_serving_fn(generator, checks=False), input_signature=serving_specs(),
        opset=ONNX_OPSET)
    for value in list(model.graph.input) + list(model.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "N"
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def set_onnx_metadata(path, props):
    """Replaces model.onnx's metadata_props with ``props`` (str -> str)."""
    import onnx

    model = onnx.load(path)
    del model.metadata_props[:]
    for key, value in sorted(props.items()):
        model.metadata_props.add(key=key, value=str(value))
    onnx.checker.check_model(model)
    onnx.save(model, path)
