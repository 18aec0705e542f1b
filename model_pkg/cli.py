"""The ``model-pkg`` command line: a thin layer over the library.

Each subcommand parses its flags, calls one library function and prints what
it made. Errors a user can fix (bad flags, missing data, a config clash) exit
with status 2 and one clear line, not a traceback (``--debug`` shows it). Tools with
flags of their own (screen, report, the bench sections) keep them in the module they drive
(``add_arguments``/``run``), so ``python -m`` on that module still works. This is the one module
allowed to import every layer (train, export, serving, benchmarks;
docs/architecture.md); it imports them inside the subcommands, so that
``model-pkg --help`` starts fast.
"""

import argparse
import importlib
import json
import os
import sys

from model_pkg import cli_parsers, runtimes
from model_pkg.config import PRESETS
from model_pkg.paths import bench_outputs, default_models_dir, default_pipeline_workdir


def _quiet_tensorflow():
    # TF's C++ INFO/WARNING lines bury the progress bar; errors still show.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _add_train_flags(parser):
    parser.add_argument("--steps", type=int, help="total steps to reach (extends a finished run)")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="config preset (default: the workdir's own, else 'default')")
    # --seed: the flag's name before "seed" came to mean only the seed report's model.
    parser.add_argument("--random-seed", "--seed", type=int, dest="random_seed",
                        help="random seed (weights, data order, noise)")
    parser.add_argument("--batch-size", type=int, help="override the preset's batch size")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", dest="overrides",
                        help="override one config field, e.g. --set d_learning_rate=1e-4")
    parser.add_argument("--data", help="MNIST: a Keras-layout .npz or a folder of IDX .gz files")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar: a plain line every 10 s instead (for logs)")


def _add_gate_flags(parser):
    parser.add_argument("--force", action="store_true",
                        help="publish even if the quality gate refuses (needs --reason)")
    parser.add_argument("--reason", help="why --force is right; recorded in the manifest")
    parser.add_argument("--skip-quality", action="store_true",
                        help="do not measure or bless (recorded as unblessed; for tests)")
    parser.add_argument("--signing-key", help="Ed25519 private key (PEM) to sign the manifest "
                        "with (env MODEL_PKG_SIGNING_KEY); docs/security.md")
    parser.add_argument("--baseline", default="newest",
                        help="what the candidate must not be worse than: a version number, "
                        "'newest' (default: the newest published version with metrics), "
                        "'none', or a TF Serving label such as 'stable' (read from "
                        "serving/config/models.config)")


def _export(args):
    from model_pkg.export.exporter import export_from_workdir

    if args.force and not args.reason:
        raise ValueError("--force needs --reason '...' (it is recorded in the manifest)")
    return export_from_workdir(args.workdir, args.models_dir, log=_stderr,
                               quality=not args.skip_quality,
                               force_reason=args.reason if args.force else None,
                               baseline=_baseline(args.baseline), signing_key=args.signing_key)


def _baseline(text):
    """--baseline -> a version number, "newest" or None; a label is looked up in the serving
    config here, in the CLI, so that the export layer never reads a deployment file."""
    if text in ("newest", "none"):
        return None if text == "none" else text
    if text.isascii() and text.isdigit():   # str.isdigit alone takes "²"
        return int(text)
    from model_pkg.serving import config_files

    path = os.path.join(config_files.deployment_config_dir(), "models.config")
    version = config_files.load_models_config(path)[1].version_labels.get(text)
    if version is None:
        raise ValueError(f"--baseline {text!r}: not a version, 'newest', 'none' or a label of "
                         f"{path}")
    return version


# subcommand -> the module that defines its flags (add_arguments) and runs it (run).
_MODULE_TOOLS = {"screen": "model_pkg.screen", "report": "model_pkg.eval.report",
                 "missing": "model_pkg.eval.missing"}
# model-pkg bench SECTION: one measurement of the suite on its own, with its own flags.
_BENCH_SECTIONS = {"preset-time": "model_pkg.benchmarks.preset_time",
                   "train-speed": "model_pkg.benchmarks.train_speed",
                   "export-speed": "model_pkg.benchmarks.export_speed",
                   "distributed-speed": "model_pkg.benchmarks.distributed_speed",
                   "precision": "model_pkg.benchmarks.precision"}


def _add_module_tools(sub, tools):
    for name, module in tools.items():
        tool = importlib.import_module(module)   # argparse and the standard library only
        parser = sub.add_parser(name, help=tool.HELP, description=tool.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
        tool.add_arguments(parser)
        parser.set_defaults(tool_module=module, tool_parser=parser)


def build_parser():
    parser = argparse.ArgumentParser(prog="model-pkg", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true",
                        help="on an error, show the traceback, not just one line")
    parser.add_argument("--trusted-keys", help="Ed25519 public key(s) (a PEM file or folder): "
                        "every version loaded must be signed by one (env MODEL_PKG_TRUSTED_KEYS)")
    sub = parser.add_subparsers(dest="command", required=True)
    keygen = sub.add_parser("keygen", help="make an Ed25519 key pair for signing versions")
    keygen.add_argument("--out", required=True, help="folder for signing_key.pem (0600) and "
                        "signing_key.pub.pem")

    train = sub.add_parser("train", help="train or resume a GAN in a workdir")
    train.add_argument("--workdir", required=True, help="checkpoints, samples, logs go here")
    train.add_argument("--strategy", default="default", choices=("default", "mirrored",
                       "multi-worker"), help="tf.distribute: local GPUs, or $TF_CONFIG's workers")
    _add_train_flags(train)

    export = sub.add_parser("export", help="publish the next version from a workdir")
    export.add_argument("--workdir", required=True, help="a training workdir")
    export.add_argument("--models-dir",
                        help="default: artifacts/models under the working directory")
    _add_gate_flags(export)

    cli_parsers.add_generate_parser(sub, runtimes.names(usable=True))

    evaluate = sub.add_parser("evaluate", help="print a version's metrics as JSON")
    evaluate.add_argument("version_dir", help="a version folder")
    evaluate.add_argument("--cas", action="store_true",
                          help="also train on 60,000 generated digits and test on real ones (slow)")

    bench = cli_parsers.add_tool_parsers(sub)
    _add_module_tools(bench.add_subparsers(
        dest="section", metavar="SECTION", help="one section alone (default: the whole suite)"),
        _BENCH_SECTIONS)
    _add_module_tools(sub, _MODULE_TOOLS)

    pipeline = sub.add_parser("pipeline", help="the main job on embedded defaults")
    pipeline.add_argument("--workdir", default=default_pipeline_workdir(),
                          help="training workdir (default: %(default)s)")
    pipeline.add_argument("--models-dir",
                          help="default: artifacts/models under the working directory")
    _add_gate_flags(pipeline)
    pipeline.add_argument("--skip-if-published", action="store_true",
                          help="do nothing when a version is already published (docker compose)")

    cli_parsers.add_serving_parsers(sub)
    _add_train_flags(pipeline)
    return parser


def cmd_train(args):
    from model_pkg.config import parse_overrides
    from model_pkg.train import resolve_config, train_and_evaluate

    overrides = parse_overrides(args.overrides)
    flags = {"steps": args.steps, "random_seed": args.random_seed, "batch_size": args.batch_size}
    overrides.update({k: v for k, v in flags.items() if v is not None})
    config = resolve_config(args.workdir, preset=args.preset, **overrides)
    result = train_and_evaluate(config, args.workdir, data_path=args.data,
                                progress="lines" if args.no_progress else True,
                                strategy=getattr(args, "strategy", "default"))
    print(json.dumps({"workdir": os.path.abspath(args.workdir), **vars(result)}, indent=2))
    return 0


def cmd_export(args):
    print(_export(args))
    return 0


def cmd_generate(args):
    from model_pkg.serving.generate import generate_grid, open_client, parse_labels, remote_options

    labels = parse_labels(args.labels)
    remote = remote_options(args.ca_file, args.cert_file, args.key_file, args.header,
                            args.token_env, args.deadline)
    client = open_client(args.runtime, model=args.model, url=args.url, target=args.target,
                         version=args.version, label=args.label, remote=remote,
                         precision=args.precision)
    images = generate_grid(client, labels, args.out, per_label=args.per_label, seed=args.noise_seed)
    path = f", {client.precision}" if args.precision else ""
    choices = getattr(client, "fast_choices", {})   # fast: the path each batch size took
    if choices:
        path += " -> " + "/".join(sorted(set(choices.values())))
    print(f"wrote {len(images)} digits ({args.runtime}{path}) to {args.out}")
    return 0


def cmd_evaluate(args):
    from model_pkg.export.evaluate import version_metrics

    print(json.dumps(version_metrics(args.version_dir, cas=args.cas, log=_stderr), indent=2))
    return 0


def cmd_pipeline(args):
    """Train (resume-aware), export with parity, print the version and its metrics."""
    from model_pkg.export.evaluate import version_metrics
    from model_pkg.export.publish import list_versions, model_root

    root = model_root(args.models_dir or default_models_dir())
    if args.skip_if_published and list_versions(root):
        print(f"version {list_versions(root)[-1]} already published in {root}; nothing to do")
        return 0
    cmd_train(args)
    version_dir = _export(args)
    print(json.dumps(version_metrics(version_dir, log=_stderr, measure_missing=False), indent=2))
    print(f"new version: {version_dir}")
    return 0


def cmd_web(args):
    from model_pkg.serving.web_app import make_server

    server = make_server(args.model, port=args.port)
    print(f"serving {os.path.abspath(args.model)} at "
          f"http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_bench(args):
    from model_pkg.benchmarks import suite

    out_json, out_md = (a or b for a, b in zip((args.out_json, args.out_md), bench_outputs()))
    results = suite.main(out_json, out_md, quick=args.quick, log=_stderr)
    print(json.dumps(results["ratios"], indent=2))
    print(f"wrote {out_md} and {out_json}")
    return 0


def cmd_promote(args):
    from model_pkg.export.manifest import verify_version
    from model_pkg.export.publish import model_root
    from model_pkg.serving import config_files

    config_files.check_label(args.label)   # the inputs first, then the files they name
    config_files.check_version(args.version)
    verify_version(os.path.join(model_root(args.models_dir or default_models_dir()),
                                str(args.version)))
    loaded = None
    if args.rest_url:
        from model_pkg.serving.rest_client import RestClient

        status = RestClient(args.rest_url).status()["model_version_status"]
        loaded = {int(s["version"]) for s in status if s["state"] == "AVAILABLE"}
    print(config_files.promote(args.label, args.version, _models_config(args),
                               loaded_versions=loaded))
    return 0


def cmd_rollback(args):
    from model_pkg.serving import config_files

    print(config_files.rollback(args.label, _models_config(args)))
    return 0


def _models_config(args):
    from model_pkg.serving import config_files

    return args.config or os.path.join(config_files.deployment_config_dir(), "models.config")


def cmd_check_serving(args):
    from model_pkg.serving import config_files
    from model_pkg.serving.preflight import check_deployment

    check_deployment(args.config_dir or config_files.deployment_config_dir(), args.models_dir)
    return 0


def cmd_gpu_check(args):
    from model_pkg.serving import gpu_check

    return gpu_check.main([args.version_dir])


def cmd_tls_config(args):
    from model_pkg.serving import tls

    config = tls.build_ssl_config(args.key, args.cert, args.ca, args.client_verify)
    tls.write_ssl_config(args.out, config)
    print(f"wrote {args.out} (mode 0640: it holds the private key); start TF Serving with "
          "docker-compose.tls.yml")
    return 0


def cmd_keygen(args):
    from model_pkg.export import signing

    os.makedirs(args.out, exist_ok=True)
    private = os.path.join(args.out, "signing_key.pem")
    public = os.path.join(args.out, "signing_key.pub.pem")
    key_id = signing.generate_key_pair(private, public)
    print(f"key {key_id}: private {private} (keep it off the serving hosts), public {public}")
    return 0


def _stderr(line):
    print(line, file=sys.stderr)


_COMMANDS = {"train": cmd_train, "export": cmd_export, "generate": cmd_generate,
             "evaluate": cmd_evaluate, "web": cmd_web, "bench": cmd_bench,
             "pipeline": cmd_pipeline, "promote": cmd_promote, "rollback": cmd_rollback,
             "check-serving": cmd_check_serving, "keygen": cmd_keygen,
             "tls-config": cmd_tls_config, "gpu-check": cmd_gpu_check}


def main(argv=None):
    args = build_parser().parse_args(argv)
    _quiet_tensorflow()
    if args.trusted_keys is not None:   # every loader reads it; "" is refused there
        os.environ["MODEL_PKG_TRUSTED_KEYS"] = args.trusted_keys
    from model_pkg.checkpoint import CheckpointError
    from model_pkg.data import DataError

    try:
        if getattr(args, "tool_module", None):
            return importlib.import_module(args.tool_module).run(args, args.tool_parser)
        return _COMMANDS[args.command](args)
    except (ValueError, DataError, CheckpointError, RuntimeError, OSError) as err:
        if args.debug:
            raise
        print(f"model-pkg {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
