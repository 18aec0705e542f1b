"""The config messages the package parses with are TF Serving's own, field by field.

serving/protos.py rebuilds BatchingParameters, MonitoringConfig, PrometheusConfig and
SSLConfig from hand-typed tables (tensorflow-serving-api does not ship them), and takes
ModelServerConfig from that wheel. Both are compared here with upstream's .proto files,
vendored in tests/data/tf_serving_protos (SOURCE.md: repository, tag, commit): every
message's field names, numbers, types and labels must be equal, so a table that drifts from
upstream, or a wheel that disagrees with the server's release, fails here.
"""

import os
import re

import pytest
from google.protobuf.descriptor import FieldDescriptor

from model_pkg.serving import protos

PROTO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                         "tf_serving_protos")
_SCALARS = {getattr(FieldDescriptor, f"TYPE_{n.upper()}"): n for n in (
    "double", "float", "int64", "uint64", "int32", "fixed64", "fixed32", "bool", "string",
    "bytes", "uint32", "sfixed32", "sfixed64", "sint32", "sint64")}
_FIELD = re.compile(r"^(repeated\s+|optional\s+)?(map\s*<\s*\w+\s*,\s*[\w.]+\s*>|[\w.]+)\s+"
                    r"(\w+)\s*=\s*(\d+)\s*(\[[^\]]*\])?$")


def parse_proto(text):
    """{message: {field: (number, type, label)}} from a .proto file's text.

    Enough of the grammar for TF Serving's config files: top-level messages, oneofs (their
    fields are optional), maps, reserved and option lines; a type is its last name part.
    """
    text = re.sub(r"//[^\n]*", "", text)
    messages = {}
    for match in re.finditer(r"\bmessage\s+(\w+)\s*\{", text):
        depth, start = 1, match.end()
        end = start
        while depth:
            depth += {"{": 1, "}": -1}.get(text[end], 0)
            end += 1
        body = re.sub(r"\boneof\s+\w+\s*\{|\}", ";", text[start:end - 1])
        fields = {}
        for statement in (" ".join(s.split()) for s in body.split(";")):
            if not statement or statement.startswith(("reserved ", "option ")):
                continue
            found = _FIELD.match(statement)
            assert found, f"message {match.group(1)}: cannot parse {statement!r}"
            label, kind, name, number, _ = found.groups()
            kind = re.sub(r"\s+", "", kind).rpartition(".")[2] if not kind.startswith("map") \
                else re.sub(r"\s+", "", kind)
            repeated = (label or "").strip() == "repeated" or kind.startswith("map")
            fields[name] = (int(number), kind, "repeated" if repeated else "optional")
        messages[match.group(1)] = fields
    return messages


def _kind(field):
    if field.type in _SCALARS:
        return _SCALARS[field.type]
    if field.type == FieldDescriptor.TYPE_ENUM:
        return field.enum_type.name
    entry = field.message_type
    if entry.GetOptions().map_entry:
        key, value = (_kind(entry.fields_by_name[n]) for n in ("key", "value"))
        return f"map<{key},{value}>"
    return entry.name


def described(descriptor):
    """The same {field: (number, type, label)} from a compiled message descriptor."""
    return {f.name: (f.number, _kind(f),
                     "repeated" if f.is_repeated else "optional")
            for f in descriptor.fields}


def _upstream():
    found = {}
    for name in sorted(os.listdir(PROTO_DIR)):
        if name.endswith(".proto"):
            with open(os.path.join(PROTO_DIR, name)) as handle:
                found |= parse_proto(handle.read())
    return found


def _package_messages():
    """{name: descriptor} for every config message the package parses with."""
    monitoring = protos.monitoring_config().DESCRIPTOR
    server = protos.model_server_config().DESCRIPTOR
    config_list = server.fields_by_name["model_config_list"].message_type
    return {
        "BatchingParameters": protos.batching_parameters().DESCRIPTOR,
        "MonitoringConfig": monitoring,
        "PrometheusConfig": monitoring.fields_by_name["prometheus_config"].message_type,
        "SSLConfig": protos.ssl_config().DESCRIPTOR,
        "ModelServerConfig": server,
        "ModelConfigList": config_list,
        "ModelConfig": config_list.fields_by_name["config"].message_type,
    }


@pytest.mark.parametrize("name", sorted(_package_messages()))
def test_the_message_equals_upstreams(name):
    upstream = _upstream()
    assert name in upstream, f"{name} is in no vendored .proto file"
    assert described(_package_messages()[name]) == upstream[name]


def test_the_parser_reads_every_field_of_the_vendored_files():
    upstream = _upstream()
    assert {"SessionBundleConfig", "ModelWarmupOptions"} < set(upstream)
    assert upstream["ModelConfig"]["version_labels"] == (8, "map<string,int64>", "repeated")
    assert upstream["ModelConfig"]["model_version_policy"] == (7, "ServableVersionPolicy",
                                                               "optional")
    assert upstream["ModelServerConfig"]["custom_model_config"] == (2, "Any", "optional")
    assert upstream["BatchingParameters"]["allowed_batch_sizes"] == (6, "int64", "repeated")


def test_a_changed_field_number_is_caught():
    with open(os.path.join(PROTO_DIR, "ssl_config.proto")) as handle:
        text = handle.read()
    changed = parse_proto(text.replace("bool client_verify = 4;", "bool client_verify = 5;"))
    assert changed["SSLConfig"] != described(protos.ssl_config().DESCRIPTOR)
