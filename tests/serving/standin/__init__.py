"""A TEST FIXTURE emulating tensorflow_model_server from TF Serving's source. Not TF Serving.

It starts from the same flags and mounts as the shipped docker-compose.yml
service, refuses to start where TF Serving would, loads versions with TF
Serving's own loader (TensorFlow's C API) and speaks REST and gRPC on
loopback. Every behaviour it emulates is a row of docs/tf_serving.md with the
source it follows and the test that holds it; nothing else is emulated (an
unknown flag raises NotEmulated). tests/serving/test_live_tfserving.py runs
the same client checks against a real server when one is reachable.

    server = StandIn.from_compose("docker-compose.yml", env={"MODELS_DIR": ...})
    server.rest_url, server.grpc_target
    server.core.poll_once()       # one config poll, as the 30 s timer would do
"""

import os
import threading
import time
from http.server import ThreadingHTTPServer

from google.protobuf import text_format

from model_pkg import contract
from model_pkg.serving import protos
from tests.serving.standin import grpc_api, rest
from tests.serving.standin.core import ServerCore
from tests.serving.standin.flags import MountedFile, compose_service, parse_flags
from tests.serving.standin.status import Refused, StartupRefused

__all__ = ["StandIn", "Refused", "StartupRefused"]


class StandIn:
    """tensorflow_model_server's startup, model handling and APIs, on 127.0.0.1 ports."""

    def __init__(self, flags, mounts, bind=None):
        """``bind`` None: 127.0.0.1 on free ports (tests); an address: the flags' ports
        there (the container's tensorflow_model_server, tests/serving/standin/model_server.py)."""
        stray = []
        self.options = options = parse_flags(flags, stray)
        if stray:   # main.cc prints the first leftover and starts anyway
            print(f"unknown argument: {stray[0]}", flush=True)
        if not options["model_config_file"]:
            raise StartupRefused("the stand-in emulates --model_config_file deployments only")
        self.prometheus_path, self.counts = None, {}
        self.fail_next, self.fail_code, self.delay_s, self.requests = 0, "UNAVAILABLE", 0.0, 0
        self.corrupt = None
        self._lock = threading.Lock()
        batcher = self._batcher(options, mounts)
        self.core = ServerCore(options, mounts, batcher)
        self.core.start()
        if options["rest_api_port"] and options["monitoring_config_file"]:
            config = _parse(MountedFile(mounts, options["monitoring_config_file"]),
                            protos.monitoring_config())
            if config.prometheus_config.enable:
                self.prometheus_path = (config.prometheus_config.path
                                        or "/monitoring/prometheus/metrics")
        host = bind or "127.0.0.1"
        self._grpc, port = grpc_api.serve(self, options["port"] if bind else 0,
                                          self._tls(options, mounts), host,
                                          options["grpc_max_threads"])
        self.grpc_target = f"127.0.0.1:{port}"
        self._rest = self.rest_url = None
        if options["rest_api_port"]:   # 0 turns REST off (main.cc, rest_api_port)
            self._rest = ThreadingHTTPServer(
                (host, options["rest_api_port"] if bind else 0), rest.handler(self))
            self.rest_url = f"http://127.0.0.1:{self._rest.server_address[1]}"
            threading.Thread(target=self._rest.serve_forever, daemon=True).start()
        self._stop = threading.Event()
        if options["model_config_file_poll_wait_seconds"] > 0:   # server.cc: 0 never polls
            threading.Thread(target=self._poll, daemon=True).start()

    def _poll(self):
        """PeriodicFunction: every poll-wait seconds, first at once (server.cc, BuildAndStart)."""
        while not self._stop.is_set():
            self.core.poll_once()
            self._stop.wait(self.options["model_config_file_poll_wait_seconds"])

    @classmethod
    def from_compose(cls, compose_path, service="serving", env=None):
        spec = compose_service(compose_path, service, env)
        return cls(spec["flags"], spec["mounts"])

    @staticmethod
    def _batcher(options, mounts):
        """server.cc: batching parameters only with --enable_batching (else refused)."""
        if not options["enable_batching"]:
            if options["batching_parameters_file"]:
                raise StartupRefused("Failed to start server. Error: INVALID_ARGUMENT: "
                                     "server_options.batching_parameters_file is set without "
                                     "setting server_options.enable_batching to true.")
            return None
        from tests.serving.standin.batching import Batcher

        params = protos.batching_parameters()()
        if options["batching_parameters_file"]:
            params = _parse(MountedFile(mounts, options["batching_parameters_file"]),
                            protos.batching_parameters())
        sizes = list(params.allowed_batch_sizes)
        if sizes and sizes[-1] != params.max_batch_size.value:   # WrapSessionForBatching
            raise StartupRefused("Last entry in allowed_batch_sizes must match max_batch_size")
        return Batcher(params)

    @staticmethod
    def _tls(options, mounts):
        """server.cc BuildServerCredentials: SSLConfig -> gRPC server credentials, or None."""
        if not options["ssl_config_file"]:
            return None
        import grpc

        config = _parse(MountedFile(mounts, options["ssl_config_file"]), protos.ssl_config())
        return grpc.ssl_server_credentials(
            [(config.server_key.encode(), config.server_cert.encode())],
            root_certificates=config.custom_ca.encode() or None,
            require_client_auth=config.client_verify)

    # --- what both APIs share ------------------------------------------------
    def inject(self, failures=0, code="UNAVAILABLE", delay_s=0.0, reply=None):
        """TEST KNOB, not TF Serving: the next ``failures`` predicts fail with ``code``;
        every predict first waits ``delay_s``; ``reply`` (images -> array) turns every
        answer into a malformed one, for the clients' reply checks."""
        with self._lock:
            self.fail_next, self.fail_code, self.delay_s = failures, code, delay_s
            self.corrupt = reply

    def predict(self, runtime, inputs):
        """One request's Session::Run (through the batcher if enabled), after injected faults."""
        with self._lock:
            self.requests += 1
            delay, fail, corrupt = self.delay_s, self.fail_next > 0, self.corrupt
            self.fail_next -= 1 if fail else 0
        time.sleep(delay)
        if fail:
            raise Refused(self.fail_code, "injected fault (test knob)")
        images = self.core.run(runtime, inputs)
        self.count("OK")
        return images if corrupt is None else corrupt(images)

    def count(self, code):
        """:tensorflow:serving:request_count{status=...} (servables/tensorflow/util.cc)."""
        with self._lock:
            self.counts[code] = self.counts.get(code, 0) + 1

    def prometheus_page(self):
        lines = ["# TYPE :tensorflow:serving:request_count counter"]
        lines += [f':tensorflow:serving:request_count{{model_name="{contract.MODEL_NAME}",'
                  f'status="{code}"}} {n}' for code, n in sorted(self.counts.items())]
        return "\n".join(lines) + "\n"

    # --- REST entry points (rest.py routes here) -----------------------------
    def rest_predict(self, name, version, label, raw):
        body = rest.decode_body(raw)
        signature = body.get("signature_name", "")
        if not isinstance(signature, str):
            raise Refused("INVALID_ARGUMENT", "'signature_name' key must be a string value.")
        number, runtime = self.core.resolve(name, version, label)
        if (signature or contract.SIGNATURE_NAME) not in runtime.signature_defs:
            raise Refused("INVALID_ARGUMENT", f'Serving signature name: "{signature}" not '
                                              "found in signature def")
        inputs, fmt = rest.parse_predict(body, runtime.input_names)
        images = self.predict(runtime, inputs)
        return {"predictions": images.tolist()} if fmt == "row" else {"outputs": images.tolist()}

    def rest_status(self, name, version):
        return {"model_version_status": [
            {"version": str(n), "state": state,
             "status": {"error_code": "OK", "error_message": ""}}
            for n, state in self.core.status(name, version)]}

    def rest_metadata(self, name, version, label):
        number, runtime = self.core.resolve(name, version, label)
        return rest.metadata_json(self.core.name, number, runtime.signature_defs)

    def close(self):
        self._stop.set()
        if self._rest is not None:
            self._rest.shutdown()
            self._rest.server_close()
        self._grpc.stop(grace=None)
        if self.core.batcher is not None:
            self.core.batcher.close()
        self.core.close()


def _parse(mounted, message_class):
    try:
        return text_format.Parse(mounted.read_text(), message_class())
    except (OSError, text_format.ParseError) as err:
        raise StartupRefused(f"Failed to start server. Error: INVALID_ARGUMENT: Invalid "
                             f"protobuf file: '{mounted.container_path}' ({err})") from err
    finally:
        mounted.close()


def shipped_compose():
    """The repository's docker-compose.yml."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))), "docker-compose.yml")
