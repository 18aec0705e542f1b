"""Offline checks against a vendored CustomResourceDefinition (deploy/*/crd/: YAML.gz + SOURCE.md).

Shared by the KServe (tests/serving/test_manifests.py) and TFJob
(tests/model_pkg/distributed/test_tfjob.py) checks: no cluster, no network.
"""

import gzip
import hashlib
import os
import re

import yaml


def crd_schema(folder, file_name, kind, version):
    """The ``version`` openAPIV3Schema of the CRD in ``folder``, strict, after its sha256 is
    checked against the "sha256 of the YAML" row of ``folder``/SOURCE.md."""
    with gzip.open(os.path.join(folder, file_name)) as handle:
        raw = handle.read()
    with open(os.path.join(folder, "SOURCE.md")) as handle:
        wanted = re.search(r"sha256 of the YAML \| `([0-9a-f]{64})`", handle.read())[1]
    assert hashlib.sha256(raw).hexdigest() == wanted, f"{file_name} differs from SOURCE.md"
    crd = yaml.safe_load(raw)
    assert crd["spec"]["names"]["kind"] == kind
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    return strict(served["schema"]["openAPIV3Schema"])


def strict(schema):
    """kubectl --validate=strict: unknown fields fail where the CRD lists the fields."""
    if isinstance(schema, dict):
        schema = {k: strict(v) for k, v in schema.items()}
        if ("properties" in schema and "additionalProperties" not in schema
                and not schema.get("x-kubernetes-preserve-unknown-fields")):
            schema["additionalProperties"] = False
    elif isinstance(schema, list):
        schema = [strict(item) for item in schema]
    return schema


def schema_errors(schema, resource):
    """["path: message", ...] of ``resource`` against ``schema`` (JSON Schema draft 7)."""
    import jsonschema

    return [f"{'.'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft7Validator(schema).iter_errors(resource)]
