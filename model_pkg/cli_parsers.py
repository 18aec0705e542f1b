"""The argparse definitions of ``model-pkg`` subcommands that share no flags with others.

Split from model_pkg/cli.py, which builds the whole parser and runs the commands; this
module imports nothing beyond argparse, so it sits in the bottom layer.
"""


def add_generate_parser(sub, runtime_names):
    """`generate`: digits from any runtime of the registry (``runtime_names``, its choices)."""
    generate = sub.add_parser("generate", help="draw digits with any runtime")
    generate.add_argument("--model", help="a version folder, e.g. .../cgan/1 (in-process "
                          "runtimes: onnx, savedmodel, ...)")
    generate.add_argument("--runtime", default="onnx", choices=runtime_names,
                          help="a runtime of the registry (model_pkg/runtimes.py)")
    generate.add_argument("--url", help="TF Serving REST address (default http://localhost:8501)")
    generate.add_argument("--target", help="TF Serving gRPC address (default localhost:8500)")
    generate.add_argument("--version", type=int, help="server-side version (rest, grpc)")
    generate.add_argument("--label", help="server-side version label, e.g. stable (rest, grpc)")
    generate.add_argument("--precision", choices=("float", "int8", "bf16", "fast"),
                          help="--runtime onnx: float (model.onnx, exact; default), int8 "
                          "(model.int8.onnx), bf16 (OpenVINO, where the version offers it) "
                          "or fast (the fastest offered path, measured per batch size)")
    generate.add_argument("--labels", required=True, help="comma-separated digits, e.g. 0,1,2")
    generate.add_argument("--out", required=True, help="PNG file to write")
    generate.add_argument("--per-label", type=int, default=8, help="digits per label (columns)")
    generate.add_argument("--noise-seed", "--seed", type=int, default=0, dest="noise_seed",
                          help="noise seed, 0..2**32-1 (portable: same digits as the web page)")
    generate.add_argument("--ca-file", help="CA to verify an https:// or TLS gRPC server with")
    generate.add_argument("--cert-file", help="client certificate (PEM), with --key-file")
    generate.add_argument("--key-file", help="the client certificate's private key (PEM)")
    generate.add_argument("--header", action="append", default=[],
                          help="'Name: value' sent with every request (repeatable)")
    generate.add_argument("--token-env", help="environment variable holding a bearer token")
    generate.add_argument("--deadline", type=float, help="seconds one call may take, retries "
                          "included (rest, grpc; default 60)")


def add_tool_parsers(sub):
    """`web` (the browser page) and `bench` (the benchmark); returns bench's parser."""
    web = sub.add_parser("web", help="serve the in-browser demo page for a version (loopback)")
    web.add_argument("--model", required=True,
                     help="a version folder, e.g. artifacts/models/cgan/1")
    web.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (0: any free)")

    bench = sub.add_parser("bench", help="benchmark every runtime, training and export")
    bench.add_argument("--out-json", help="default: artifacts/bench/bench.json")
    bench.add_argument("--out-md", help="the Markdown report (default: ./BENCHMARKS.md)")
    bench.add_argument("--quick", action="store_true",
                       help="tiny sizes: checks the benchmark runs, numbers mean nothing")
    return bench


def add_serving_parsers(sub):
    """`promote`, `rollback` (version labels), `tls-config`, `check-serving`, `gpu-check`."""
    promote = sub.add_parser("promote", help="move a TF Serving version label (two steps)")
    promote.add_argument("--label", required=True, help="e.g. stable or canary")
    promote.add_argument("--version", required=True, type=int)
    promote.add_argument("--config",
                         help="models.config to edit (default: serving/config/models.config)")
    promote.add_argument("--models-dir", help="where versions are published (to verify N)")
    promote.add_argument("--rest-url", help="a running TF Serving: check N is loaded first")

    rollback = sub.add_parser("rollback", help="move a label to the previous served version")
    rollback.add_argument("--label", required=True)
    rollback.add_argument("--config",
                          help="models.config to edit (default: serving/config/models.config)")

    tls_config = sub.add_parser("tls-config", help="write TF Serving's gRPC --ssl_config_file "
                                "from PEM files (docs/security.md)")
    tls_config.add_argument("--key", required=True, help="the server's private key (PEM)")
    tls_config.add_argument("--cert", required=True, help="the server's certificate (PEM)")
    tls_config.add_argument("--ca", help="CA of the clients' certificates (with --client-verify)")
    tls_config.add_argument("--client-verify", action="store_true",
                            help="demand a client certificate signed by --ca")
    tls_config.add_argument("--out", required=True, help="e.g. serving/config/ssl.config")

    check = sub.add_parser("check-serving", help="will TF Serving start on this config and "
                           "these versions? (its own loader, in process)")
    check.add_argument("--config-dir", help="default: serving/config")
    check.add_argument("--models-dir", help="default: artifacts/models under the working directory")

    gpu = sub.add_parser("gpu-check", help="ONNX Runtime on CUDA equals the CPU on a version "
                         "(SKIP without a GPU; exit 1 on a mismatch)")
    gpu.add_argument("version_dir", help="a version folder, e.g. artifacts/models/cgan/1")
