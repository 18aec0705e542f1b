"""Drawing digits with any runtime: a published version in-process, or a server."""

import os

import numpy as np

from model_pkg import plots, runtimes
from model_pkg.noise import portable_noise

# The runtimes whose clients take precision= (export/precision.py): ONNX Runtime in process.
PRECISION_RUNTIMES = ("onnx",)


def remote_options(ca_file=None, cert_file=None, key_file=None, headers=(), token_env=None,
                   deadline_s=None):
    """Keyword arguments for RestClient/GrpcClient from the command line's TLS,
    credential and deadline flags. ``headers`` are "Name: value" strings; ``token_env``
    names an environment variable holding a bearer token (keeps it off the command
    line); ``deadline_s`` (seconds, > 0) bounds each call, retries included (None: the
    clients' default)."""
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
    options = {"ca_file": ca_file, "cert_file": cert_file, "key_file": key_file,
               "headers": parsed or None}
    if deadline_s is not None:
        from model_pkg.serving.retry import check_deadline

        options["deadline_s"] = check_deadline(deadline_s, "--deadline")
    return options


def open_client(runtime, model=None, url=None, target=None, version=None, label=None,
                remote=None, precision=None):
    """A client with generate() for any runtime of the registry (model_pkg/runtimes.py)
    that opens from a version folder or a server; in-process runtimes verify the
    version's manifest first. ``remote``: remote_options() for the servers.
    ``precision``: float, int8, bf16 or fast (export/precision.py), for the runtimes in
    PRECISION_RUNTIMES only; None leaves the runtime's float."""
    entry = runtimes.get(runtime, usable=True)
    if precision is not None and runtime not in PRECISION_RUNTIMES:
        raise ValueError(f"--precision {precision}: only --runtime "
                         f"{', '.join(PRECISION_RUNTIMES)} (in-process ONNX Runtime) chooses "
                         f"a precision; {runtime} runs the float model")
    if not entry.remote:
        if not model:
            raise ValueError(f"--runtime {runtime} needs --model VERSION_DIR")
        options = {} if precision is None else {"precision": precision}
        return entry.open(model, for_user=True, **options)
    address = {"url": url, "target": target}[entry.needs]
    return entry.open(address, for_user=True, version=version, label=label, **(remote or {}))


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
