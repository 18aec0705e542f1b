"""GrpcClient: TF Serving's PredictionService and ModelService over gRPC."""

import numpy as np

from model_pkg import contract
from model_pkg.serving.config_files import check_label, check_version
from model_pkg.serving.errors import (
    UNKNOWN_LABEL,
    ModelNotFound,
    RequestRefused,
    ServingError,
    ServingTimeout,
    TLSError,
    Unauthorized,
    _Retryable,
    with_retries,
)
from model_pkg.validation import validate_inputs

# A batch of 256 images is 0.8 MB; the default 4 MB receive limit would cap a
# server configured for bigger batches at about 1,300 images.
MAX_MESSAGE_BYTES = 256 * 1024 * 1024


def tensor_proto(array):
    """np.ndarray (int32 or float32) -> TensorProto, without importing TensorFlow ops."""
    from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2

    dtype = {np.dtype(np.int32): types_pb2.DT_INT32,
             np.dtype(np.float32): types_pb2.DT_FLOAT}[array.dtype]
    shape = tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=d) for d in array.shape])
    return tensor_pb2.TensorProto(dtype=dtype, tensor_shape=shape,
                                  tensor_content=np.ascontiguousarray(array).tobytes())


def to_array(proto):
    """TensorProto (float32 or int32) -> np.ndarray."""
    from tensorflow.core.framework import types_pb2

    dtype = {types_pb2.DT_FLOAT: np.float32, types_pb2.DT_INT32: np.int32}[proto.dtype]
    shape = [d.size for d in proto.tensor_shape.dim]
    if proto.tensor_content:
        return np.frombuffer(proto.tensor_content, dtype=dtype).reshape(shape)
    values = proto.float_val if dtype == np.float32 else proto.int_val
    return np.asarray(values, dtype=dtype).reshape(shape)


class GrpcClient:
    """generate() through PredictionService.Predict; metadata() and status() too.

    ``ca_file`` opens a TLS channel that verifies the server against that CA
    (TF Serving's --ssl_config_file; docs/security.md); ``cert_file``/``key_file``
    add a client certificate (for its client_verify); ``headers`` are sent as
    call metadata, e.g. {"authorization": "Bearer ..."} for a proxy.

    ``lb_policy="round_robin"`` spreads calls over every address the target resolves
    to, for several servers without a proxy: "ipv4:10.0.0.1:8500,10.0.0.2:8500", or
    "dns:///cgan-serving-grpc:8500" (a Kubernetes headless Service). gRPC's default,
    pick_first, sends every call down one connection to one server (docs/scale_out.md).
    """

    def __init__(self, target="localhost:8500", model=contract.MODEL_NAME, version=None,
                 label=None, timeout_s=30.0, retries=3, backoff_s=0.2,
                 max_batch=contract.MAX_REQUEST_ROWS, ca_file=None, cert_file=None,
                 key_file=None, headers=None, lb_policy=None):
        import grpc
        from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

        if version is not None and label is not None:
            raise ValueError("give a version or a label, not both")
        if version is not None:
            check_version(version, "version")
        if label is not None:
            check_label(label, "label")
        self.target, self.model, self.version, self.label = target, model, version, label
        self.timeout_s, self.retries, self.backoff_s = timeout_s, retries, backoff_s
        self.max_batch = max_batch
        self._grpc = grpc
        self._metadata = [(k.lower(), v) for k, v in (headers or {}).items()]
        options = [("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                   ("grpc.max_send_message_length", MAX_MESSAGE_BYTES)]
        if lb_policy is not None:
            options.append(("grpc.lb_policy_name", lb_policy))
        if ca_file or cert_file:
            credentials = grpc.ssl_channel_credentials(
                root_certificates=_read(ca_file), private_key=_read(key_file),
                certificate_chain=_read(cert_file))
            self._channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self._channel = grpc.insecure_channel(target, options=options)
        self._predict = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def _spec(self, spec):
        spec.name = self.model
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.label is not None:
            spec.version_label = self.label

    def generate(self, labels, noise):
        """(labels [N] 0..9, noise [N,100]) -> float32 [N,28,28,1] in [0, 1]."""
        from tensorflow_serving.apis import predict_pb2

        label, noise = validate_inputs(labels, noise, max_batch=self.max_batch)
        request = predict_pb2.PredictRequest()
        self._spec(request.model_spec)
        request.model_spec.signature_name = contract.SIGNATURE_NAME
        request.inputs[contract.LABEL_KEY].CopyFrom(tensor_proto(label))
        request.inputs[contract.NOISE_KEY].CopyFrom(tensor_proto(noise))
        reply = self._call(self._predict.Predict, request, "Predict")
        if contract.IMAGES_KEY not in reply.outputs:
            raise ServingError(f"{self.target}: reply has no {contract.IMAGES_KEY!r} output")
        images = to_array(reply.outputs[contract.IMAGES_KEY])
        expected = (len(label), *contract.IMAGE_SHAPE)
        if images.shape != expected:
            raise ServingError(f"{self.target}: images of shape {images.shape}, "
                               f"expected {expected}")
        return images

    def metadata(self):
        """GetModelMetadataResponse with the signature_def map."""
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._spec(request.model_spec)
        return self._call(self._predict.GetModelMetadata, request, "GetModelMetadata")

    def status(self):
        """GetModelStatusResponse (state of each version)."""
        from tensorflow_serving.apis import get_model_status_pb2

        request = get_model_status_pb2.GetModelStatusRequest()
        self._spec(request.model_spec)
        return self._call(self._models.GetModelStatus, request, "GetModelStatus")

    def _call(self, method, request, name):
        def attempt():
            try:
                return method(request, timeout=self.timeout_s, metadata=self._metadata)
            except self._grpc.RpcError as err:
                raise _grpc_error(self._grpc, err, f"{self.target} {name}") from None

        return with_retries(attempt, self.retries, self.backoff_s, f"{self.target} {name}")

    def close(self):
        self._channel.close()


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
