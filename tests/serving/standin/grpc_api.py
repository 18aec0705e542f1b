"""TF Serving's gRPC services as its source does them. A TEST FIXTURE, not TF Serving.

PredictionService (model_servers/prediction_service_impl.cc;
servables/tensorflow/predict_impl.cc and predict_util.cc ``RunPredict``,
``VerifyRequestInputsSize``; get_model_metadata_impl.cc) and ModelService
(model_service_impl.cc, get_model_status_impl.cc). Codes pass straight
through; messages over 1024 characters are cut (grpc_status_util.cc).
"""

from concurrent import futures

from model_pkg import contract
from tests.serving.standin.status import Refused


def _abort(context, grpc, err):
    message = err.message if len(err.message) <= 1024 else err.message[:1024] + "...TRUNCATED"
    context.abort(getattr(grpc.StatusCode, err.code), message)


def check_request_inputs(request_names, signature_names):
    """predict_util.cc ``VerifyRequestInputsSize`` and saved_model's ``GetInputValues``."""
    sent, wanted = set(request_names), set(signature_names)
    if len(sent) != len(wanted):
        raise Refused("INVALID_ARGUMENT", (
            f"input size does not match signature: {len(sent)}!={len(wanted)} "
            f"len({{{','.join(sorted(sent))}}}) != len({{{','.join(sorted(wanted))}}}). "
            f"Sent extra: {{{','.join(sorted(sent - wanted))}}}. "
            f"Missing but required: {{{','.join(sorted(wanted - sent))}}}."))
    missing = sorted(wanted - sent)
    if missing:
        raise Refused("INVALID_ARGUMENT", (
            f"Signature input alias: {missing[0]} not found in request and no default value "
            f"provided. Inputs expected to be in the request {{{','.join(sorted(sent))}}}, "
            "or default input alias set: "))


def serve(server, port=0, credentials=None, host="127.0.0.1", max_threads=16):
    """Starts PredictionService and ModelService on host:port; returns (grpc server, port).

    ``credentials`` (grpc.ssl_server_credentials) make the port TLS, as TF Serving's
    --ssl_config_file does; REST stays plain, as in TF Serving.
    """
    import grpc
    import tensorflow as tf
    from tensorflow_serving.apis import (
        get_model_metadata_pb2,
        get_model_status_pb2,
        model_service_pb2_grpc,
        predict_pb2,
        prediction_service_pb2_grpc,
    )

    def handle(context, request):
        if not request.HasField("model_spec"):
            raise Refused("INVALID_ARGUMENT", "Missing ModelSpec")
        spec = request.model_spec
        if not spec.name:
            raise Refused("INVALID_ARGUMENT", "ModelSpec has no name specified.")
        which = spec.WhichOneof("version_choice")
        return server.core.resolve(spec.name, spec.version.value if which == "version" else None,
                                   spec.version_label if which == "version_label" else None)

    class Prediction(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):   # noqa: N802 - gRPC's naming
            try:
                number, runtime = handle(context, request)
                signature = request.model_spec.signature_name or contract.SIGNATURE_NAME
                if signature != contract.SIGNATURE_NAME:
                    raise Refused("FAILED_PRECONDITION",
                                  f'Serving signature key "{signature}" not found.')
                check_request_inputs(request.inputs, runtime.input_names)
                inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
                images = server.predict(runtime, inputs)
            except Refused as err:
                server.count(err.code)
                _abort(context, grpc, err)
            reply = predict_pb2.PredictResponse()
            reply.model_spec.name, reply.model_spec.version.value = server.core.name, number
            reply.model_spec.signature_name = contract.SIGNATURE_NAME
            out = reply.outputs[contract.IMAGES_KEY]   # Tensor::AsProtoField: float_val
            out.CopyFrom(tf.make_tensor_proto(images))
            out.ClearField("tensor_content")
            out.float_val.extend(images.ravel().tolist())
            return reply

        def GetModelMetadata(self, request, context):   # noqa: N802
            try:
                if not request.metadata_field:
                    raise Refused("INVALID_ARGUMENT", "GetModelMetadataRequest must specify at "
                                  "least one metadata_field")
                for field in request.metadata_field:
                    if field != "signature_def":
                        raise Refused("INVALID_ARGUMENT", f"Metadata field {field} is not "
                                      "supported")
                number, runtime = handle(context, request)
            except Refused as err:
                _abort(context, grpc, err)
            sig_map = get_model_metadata_pb2.SignatureDefMap()
            for key, sig in runtime.signature_defs.items():
                sig_map.signature_def[key].CopyFrom(sig)
            reply = get_model_metadata_pb2.GetModelMetadataResponse()
            reply.model_spec.name, reply.model_spec.version.value = server.core.name, number
            reply.metadata["signature_def"].Pack(sig_map)
            return reply

    class Models(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):   # noqa: N802
            spec = request.model_spec
            try:
                version = spec.version.value if spec.HasField("version") else None
                states = server.core.status(spec.name, version)   # version_label is ignored
            except Refused as err:
                _abort(context, grpc, err)
            reply = get_model_status_pb2.GetModelStatusResponse()
            for number, state in states:
                status = reply.model_version_status.add(version=number)
                status.state = getattr(get_model_status_pb2.ModelVersionStatus, state)
            return reply

    # --grpc_max_threads bounds the handler threads (server.h, grpc_max_threads).
    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_threads))
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Prediction(), grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(Models(), grpc_server)
    bound = (grpc_server.add_secure_port(f"{host}:{port}", credentials) if credentials
             else grpc_server.add_insecure_port(f"{host}:{port}"))
    grpc_server.start()
    return grpc_server, bound
