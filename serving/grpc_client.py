"""GrpcClient: TF Serving's PredictionService and ModelService over gRPC.

tensorflow-serving-api's message modules import ``tensorflow.core.framework``,
which runs ``tensorflow/__init__``: this client loads all of TensorFlow
(docs/serving.md has the time it takes).
"""

import numpy as np

from model_pkg import contract
from model_pkg.serving.errors import (
    UNKNOWN_LABEL,
    ModelNotFound,
    RequestRefused,
    ServingError,
    ServingTimeout,
    TLSError,
    Unauthorized,
    _Retryable,
)
from model_pkg.serving.remote import (
    DEFAULT_DEADLINE_S,
    DEFAULT_TIMEOUT_S,
    RemoteClient,
    bad_reply,
)

# A batch of 256 images is 0.8 MB; the default 4 MB receive limit would cap a
# server configured for bigger batches at about 1,300 images.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def tensor_proto(array):
    """np.ndarray -> TensorProto of its dtype and shape (tf.make_tensor_proto)."""
    import tensorflow as tf

    return tf.make_tensor_proto(array)


def to_array(proto, where="reply"):
    """TensorProto (float32 or int32) -> np.ndarray; BadReply for another dtype or a
    size that does not match the shape.

    By hand rather than tf.make_ndarray, which reads TF Serving's float_val
    replies hundreds of times slower (docs/serving.md).
    """
    from tensorflow.core.framework import types_pb2

    dtypes = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_INT32: np.int32}
    if proto.dtype not in dtypes:
        raise bad_reply(where, "images must be float32",
                        f"got {types_pb2.DataType.Name(proto.dtype)}")
    dtype, shape = dtypes[proto.dtype], [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        values = np.frombuffer(proto.tensor_content, dtype=dtype)
    else:
        values = np.asarray(proto.float_val if dtype == np.float32 else proto.int_val, dtype)
    if values.size != int(np.prod(shape)):
        raise bad_reply(where, "the tensor's values must fill its shape",
                        f"{values.size} values for shape {shape}")
    return values.reshape(shape)


class GrpcClient(RemoteClient):
    """generate() through PredictionService.Predict; metadata() and status() too.

    ``ca_file`` opens a TLS channel that verifies the server against that CA
    (TF Serving's --ssl_config_file; docs/security.md); ``cert_file``/``key_file``
    add a client certificate (for its client_verify); ``headers`` are sent as
    call metadata, e.g. {"authorization": "Bearer ..."} for a proxy. Timeouts,
    retries and the deadline: serving/remote.py.

    ``lb_policy="round_robin"`` spreads calls over every address the target resolves
    to, for several servers without a proxy: "ipv4:10.0.0.1:8500,10.0.0.2:8500", or
    "dns:///cgan-serving-grpc:8500" (a Kubernetes headless Service). gRPC's default,
    pick_first, sends every call down one connection to one server (docs/scale_out.md).
    """

    name = "grpc"   # its entry in model_pkg/runtimes.py

    def __init__(self, target="localhost:8500", model=contract.MODEL_NAME, version=None,
                 label=None, timeout_s=DEFAULT_TIMEOUT_S, retries=3, backoff_s=0.2,
                 max_batch=contract.MAX_REQUEST_ROWS, ca_file=None, cert_file=None,
                 key_file=None, headers=None, lb_policy=None, deadline_s=DEFAULT_DEADLINE_S,
                 rng=None):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        super().__init__(target, model, version, label, timeout_s, retries, backoff_s,
                         deadline_s, max_batch, rng)
        self.target, self._grpc = target, grpc
        self._metadata = [(k.lower(), v) for k, v in (headers or {}).items()]
        self._channel = _channel(grpc, target, lb_policy, ca_file, cert_file, key_file)
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _spec(self, spec):
        spec.name = self.model
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.label is not None:
            spec.version_label = self.label

    def _predict_once(self, label, noise, timeout_s):
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec)
        request.model_spec.signature_name = contract.SIGNATURE_NAME
        request.inputs[contract.LABEL_KEY].CopyFrom(tensor_proto(label))
        request.inputs[contract.NOISE_KEY].CopyFrom(tensor_proto(noise))
        reply = self._call(self._predict.Predict, request, "Predict", timeout_s)
        if contract.IMAGES_KEY not in reply.outputs:
            raise bad_reply(self.target, f"must hold the {contract.IMAGES_KEY!r} output",
                            f"got {sorted(reply.outputs)}")
        return to_array(reply.outputs[contract.IMAGES_KEY], self.target)

    def _metadata_once(self, timeout_s):
        """GetModelMetadataResponse with the signature_def map."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        return self._call(self._predict.GetModelMetadata, request, "GetModelMetadata",
                          timeout_s)

    def _status_once(self, timeout_s):
        """GetModelStatusResponse (state of each version)."""
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        return self._call(self._models.GetModelStatus, request, "GetModelStatus", timeout_s)

    def _call(self, method, request, name, timeout_s):
        try:
            return method(request, timeout=timeout_s, metadata=self._metadata)
        except self._grpc.RpcError as err:
            raise _grpc_error(self._grpc, err, f"{self.target} {name}") from None

    def close(self):
        self._channel.close()


def _channel(grpc, target, lb_policy, ca_file, cert_file, key_file):
    """A TLS channel when a CA or client certificate is given, else a plain one."""
    options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
               ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
    if lb_policy is not None:
        options.append(("grpc.lb_policy_name", lb_policy))
    if ca_file or cert_file:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(ca_file), private_key=_read(key_file),
            certificate_chain=_read(cert_file))
        return grpc.secure_channel(target, credentials, options=options)
    return grpc.insecure_channel(target, options=options)


def _read(path):
    if path is None:
        return None
    with open(path, "rb") as handle:
        return handle.read()


def _grpc_error(grpc, err, where):
    code, details = err.code(), err.details() or ""
    text = f"{where}: {code.name}: {details}"
    if code == grpc.StatusCode.UNAVAILABLE and ("CERTIFICATE_VERIFY_FAILED" in details
                                                or "andshake" in details):
        return TLSError(text + " (check the CA file and the server's certificate)",
                        status=code.name)
    if code == grpc.StatusCode.UNAVAILABLE:
        return _Retryable(text, status=code.name)
    if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
        return Unauthorized(text, status=code.name)
    if code == grpc.StatusCode.NOT_FOUND or UNKNOWN_LABEL in details:
        return ModelNotFound(text, status=code.name)
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION):
        return RequestRefused(text, status=code.name)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return ServingTimeout(text, status=code.name)
    return ServingError(text, status=code.name)
