"""``tensorflow_model_server`` inside the TF Serving STAND-IN image (a TEST FIXTURE).

tests/compose/images/tf-serving-standin.Dockerfile installs this as
/usr/bin/tensorflow_model_server, so docker-compose.yml's services start it with
their own entrypoint and flags, unchanged. It is NOT TensorFlow Serving: it says so
first on every start. Container paths are real paths here (the bind mounts are the
container's own), and it listens on every interface at the flags' ports, as TF
Serving does (server.cc: 0.0.0.0 for gRPC; REST on all addresses).

Exit codes follow main.cc: -1 (255) when Flags::Parse fails or the server cannot start.
"""

import signal
import sys
import threading

BANNER = ("model-pkg TF Serving STAND-IN (a test fixture built from Debian, NOT "
          "tensorflow/serving): flags and behaviour per docs/tf_serving.md")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    print(BANNER, flush=True)
    from tests.serving.standin import StandIn
    from tests.serving.standin.flags import UsageError
    from tests.serving.standin.status import StartupRefused

    stop = threading.Event()
    # TF Serving installs no SIGTERM handler (compose's `init: true` forwards it); the
    # stand-in stops its ports cleanly so a `docker compose down` is quick.
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server = StandIn(argv, [("/", "/", "ro")], bind="0.0.0.0")
    except UsageError as err:
        print(err, flush=True)
        return 255
    except StartupRefused as err:
        print(f"Failed to start server. Error: {err}", flush=True)
        return 255
    print(f"Running gRPC ModelServer at 0.0.0.0:{server.options['port']} ...", flush=True)
    if server.options["rest_api_port"]:
        print(f"Exporting HTTP/REST API at:localhost:{server.options['rest_api_port']} ...",
              flush=True)
    try:
        stop.wait()
    finally:
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
