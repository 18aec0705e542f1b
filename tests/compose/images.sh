#!/usr/bin/env bash
# The images docker-compose.yml runs: the real ones where this engine has or can pull
# them, else local STAND-INS built from Debian (no registry is reachable on some
# machines). Each stand-in is named for what it is, never tagged as the real image:
#   python:3.11-slim       -> model-pkg/python-standin:3.11-bookworm (Debian's CPython 3.11)
#   nginx:1.22.1           -> model-pkg/nginx-standin:1.22.1-bookworm (Debian's nginx-light)
#   tensorflow/serving:... -> model-pkg/tf-serving-standin:latest (tests/serving/standin, a
#                             test fixture; built by tests/compose after the pipeline image)
# Prints the compose variables to use, NAME=value a line, on stdout; progress on stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=model-pkg/debian-standin-base:bookworm
PYTHON_STANDIN=model-pkg/python-standin:3.11-bookworm
NGINX_STANDIN=model-pkg/nginx-standin:1.22.1-bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { echo "compose-test: $*" >&2; }

available() {   # the image is here, or the registry gives it
    docker image inspect "$1" >/dev/null 2>&1 && return 0
    [ -n "${COMPOSE_TEST_STANDINS:-}" ] && return 1   # forced: don't even ask
    timeout 300 docker pull -q "$1" >/dev/null 2>&1
}

# One Debian bookworm root (bash, grep, CPython 3.11, pip, nginx-light, CA certificates),
# imported once; both stand-ins and the TF Serving stand-in start from it.
base_image() {
    docker image inspect "$BASE" >/dev/null 2>&1 && return 0
    local root
    bash tests/compose/install_engine.sh --debootstrap
    root=$(mktemp -d)
    log "debootstrap bookworm (minbase) for the stand-in images"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates,nginx-light \
        bookworm "$root" "$MIRROR" >/dev/null
    # pip inside a build reaches PyPI only through this machine's CA bundle.
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    # python:3.11-slim lets pip install into the system Python and has python/pip names.
    rm -f "$root"/usr/lib/python3.*/EXTERNALLY-MANAGED
    ln -sf /usr/bin/python3 "$root/usr/local/bin/python"
    ln -sf /usr/bin/pip3 "$root/usr/local/bin/pip"
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import \
        --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'LABEL org.opencontainers.image.description="model-pkg stand-in base: Debian bookworm minbase"' \
        - "$BASE" >/dev/null
    rm -rf "$root"
}

standin() {   # standin NAME DOCKERFILE
    if [ -n "${COMPOSE_TEST_REQUIRE_REAL:-}" ]; then   # the Docker-host workflow
        log "COMPOSE_TEST_REQUIRE_REAL is set and a real image is missing"; exit 1
    fi
    base_image
    docker image inspect "$1" >/dev/null 2>&1 && return 0
    log "building $1"
    docker build -q -t "$1" -f "$2" tests/compose/images >/dev/null
}

python_image=python:3.11-slim
if ! available "$python_image"; then
    standin "$PYTHON_STANDIN" tests/compose/images/python-standin.Dockerfile
    python_image=$PYTHON_STANDIN
fi
echo "PYTHON_IMAGE=$python_image"

nginx_image="nginx:${NGINX_TAG:-1.22.1}"
if ! available "$nginx_image"; then
    standin "$NGINX_STANDIN" tests/compose/images/nginx-standin.Dockerfile
    nginx_image=$NGINX_STANDIN
fi
echo "NGINX_IMAGE=$nginx_image"

tf_image="tensorflow/serving:${TF_SERVING_TAG:-2.20.0}"
if available "$tf_image"; then
    echo "TF_SERVING_IMAGE=$tf_image"
elif [ -n "${COMPOSE_TEST_REQUIRE_REAL:-}" ]; then
    log "COMPOSE_TEST_REQUIRE_REAL is set and $tf_image cannot be had"; exit 1
else
    echo "TF_SERVING_IMAGE=model-pkg/tf-serving-standin:latest"
fi
