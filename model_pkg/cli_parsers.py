"""The argparse definitions of ``model-pkg`` subcommands that share no flags with others.

Split from model_pkg/cli.py, which builds the whole parser and runs the commands; this
module imports nothing beyond argparse, so it sits in the bottom layer.
"""


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
