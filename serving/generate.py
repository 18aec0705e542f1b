"""Drawing digits with any runtime: a published version in-process, or a server."""

import os

import numpy as np

from model_pkg import plots
from model_pkg.noise import portable_noise

RUNTIMES = ("onnx", "savedmodel", "rest", "grpc")


def remote_options(ca_file=None, cert_file=None, key_file=None, headers=(), token_env=None):
    """Keyword arguments for RestClient/GrpcClient from the command line's TLS and
    credential flags. ``headers`` are "Name: value" strings; ``token_env`` names an
    environment variable holding a bearer token (keeps it off the command line)."""
    parsed = {}
    for header in headers or ():
        name, sep, value = header.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--header {header!r}: must be 'Name: value'")
        parsed[name.strip()] = value.strip()
    if token_env:
        token = os.environ.get(token_env)
        if not token:
            raise ValueError(f"--token-env {token_env}: the variable is not set")
        parsed["Authorization"] = f"Bearer {token}"
    return {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file,
            "headers": parsed or None}


def open_client(runtime, model=None, url=None, target=None, version=None, label=None,
                remote=None):
    """A client with generate(); in-process runtimes verify the version's manifest first.
    ``remote``: remote_options() for rest and grpc."""
    if runtime in ("onnx", "savedmodel"):
        if not model:
            raise ValueError(f"--runtime {runtime} needs --model VERSION_DIR")
        from model_pkg.serving.local_clients import OnnxClient, SavedModelClient

        return OnnxClient(model) if runtime == "onnx" else SavedModelClient(model)
    if runtime == "rest":
        from model_pkg.serving.rest_client import RestClient

        return RestClient(url or "http://localhost:8501", version=version, label=label,
                          **(remote or {}))
    if runtime == "grpc":
        from model_pkg.serving.grpc_client import GrpcClient

        return GrpcClient(target or "localhost:8500", version=version, label=label,
                          **(remote or {}))
    raise ValueError(f"--runtime {runtime!r}: must be one of {', '.join(RUNTIMES)}")


def parse_labels(text):
    """'0,1,2' -> [0, 1, 2]; the range is left to the shared validator."""
    try:
        return [int(part) for part in text.split(",") if part.strip() != ""]
    except ValueError:
        raise ValueError(f"--labels {text!r}: must be comma-separated integers 0..9") from None


def generate_grid(client, labels, out, per_label=8, seed=0):
    """Draws ``per_label`` digits for each label (one row each) into PNG ``out``.

    Noise is model_pkg.noise.portable_noise(seed, rows * per_label): the same
    call gives the same picture on every runtime, and one label with
    per_label=100 gives the web page's grid for that label and seed.
    """
    if per_label < 1:
        raise ValueError(f"--per-label {per_label}: must be >= 1")
    rows = len(labels)
    label = np.repeat(np.asarray(labels), per_label)
    noise = portable_noise(seed, rows * per_label)
    images = client.generate(label, noise)
    plots.save_grid(out, images, max(rows, 1), per_label)
    return images
