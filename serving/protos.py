"""Message classes for TF Serving's config files.

``ModelServerConfig`` comes from tensorflow-serving-api itself. That wheel
does not ship ``BatchingParameters`` (session_bundle_config.proto),
``MonitoringConfig`` (monitoring_config.proto) or ``SSLConfig``
(ssl_config.proto), so those are rebuilt here
as descriptors with TF Serving's package, message and field names, numbers
and types, which is all text-format parsing depends on: a misspelt field, a
wrong type or a bad value fails here as it fails in tensorflow_model_server.
tests/serving/test_protos.py holds these tables equal to upstream's .proto
files, vendored in tests/data/tf_serving_protos.
"""

import functools

from google.protobuf import (
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    wrappers_pb2,  # noqa: F401  (registers wrappers.proto in the pool)
)

_F = descriptor_pb2.FieldDescriptorProto
_PACKAGE = "tensorflow.serving"

# (field, number, type, label, message type) as in TF Serving's .proto files, all of each
# message's fields: one left out would be refused here though the server accepts it.
_BATCHING_FIELDS = [
    ("max_batch_size", 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL, ".google.protobuf.Int64Value"),
    ("batch_timeout_micros", 2, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.Int64Value"),
    ("max_enqueued_batches", 3, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.Int64Value"),
    ("num_batch_threads", 4, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.Int64Value"),
    ("thread_pool_name", 5, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.StringValue"),
    ("enable_large_batch_splitting", 8, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.BoolValue"),
    ("max_execution_batch_size", 9, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     ".google.protobuf.Int64Value"),
    ("allowed_batch_sizes", 6, _F.TYPE_INT64, _F.LABEL_REPEATED, None),
    ("pad_variable_length_inputs", 7, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, None),
]
_PROMETHEUS_FIELDS = [
    ("enable", 1, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, None),
    ("path", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
]
# config/ssl_config.proto: the PEM texts themselves, not paths.
_SSL_FIELDS = [
    ("server_key", 1, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
    ("server_cert", 2, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
    ("custom_ca", 3, _F.TYPE_STRING, _F.LABEL_OPTIONAL, None),
    ("client_verify", 4, _F.TYPE_BOOL, _F.LABEL_OPTIONAL, None),
]
_MONITORING_FIELDS = [
    ("prometheus_config", 1, _F.TYPE_MESSAGE, _F.LABEL_OPTIONAL,
     f".{_PACKAGE}.PrometheusConfig"),
]


def _message(file_proto, name, fields):
    message = file_proto.message_type.add(name=name)
    for field_name, number, field_type, label, type_name in fields:
        field = message.field.add(name=field_name, number=number, type=field_type, label=label)
        if type_name:
            field.type_name = type_name


@functools.lru_cache(maxsize=None)
def _classes():
    pool = descriptor_pool.Default()
    name = "model_pkg/tf_serving_config_subset.proto"
    try:
        pool.FindFileByName(name)
    except KeyError:
        file_proto = descriptor_pb2.FileDescriptorProto(
            name=name, package=_PACKAGE, syntax="proto3",
            dependency=["google/protobuf/wrappers.proto"])
        _message(file_proto, "BatchingParameters", _BATCHING_FIELDS)
        _message(file_proto, "PrometheusConfig", _PROMETHEUS_FIELDS)
        _message(file_proto, "MonitoringConfig", _MONITORING_FIELDS)
        _message(file_proto, "SSLConfig", _SSL_FIELDS)
        pool.Add(file_proto)
    return {n: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{n}"))
            for n in ("BatchingParameters", "MonitoringConfig", "SSLConfig")}


def batching_parameters():
    """The BatchingParameters message class."""
    return _classes()["BatchingParameters"]


def ssl_config():
    """The SSLConfig message class (--ssl_config_file, gRPC TLS)."""
    return _classes()["SSLConfig"]


def monitoring_config():
    """The MonitoringConfig message class."""
    return _classes()["MonitoringConfig"]


def model_server_config():
    """The ModelServerConfig message class (from tensorflow-serving-api)."""
    from tensorflow_serving.config import model_server_config_pb2

    return model_server_config_pb2.ModelServerConfig
