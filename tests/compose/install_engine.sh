#!/usr/bin/env bash
# Installs what `make compose-test` needs where it is missing and the machine allows it
# (root on Debian): Debian's docker.io (the engine), and Compose v2 + buildx as static
# CLI plugins from Debian's trixie packages
# (bookworm has only Compose v1). Then starts dockerd if none answers, and prints
# "started <pid>" so the caller can stop it afterwards. Never touches a working engine.
set -euo pipefail

log() { echo "compose-test: $*" >&2; }

need_root() {
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        log "$1 is missing and this is not root on Debian: install it by hand"; exit 1
    fi
}

apt_install() {   # also used by images.sh (debootstrap, only where a stand-in is built)
    need_root "$*"
    [ -n "${APT_UPDATED:-}" ] || { apt-get update -qq; APT_UPDATED=1; }
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# A CLI plugin from a trixie .deb, unpacked with dpkg -x: a separate apt state folder, so
# the machine's own sources and package lists stay as they are.
trixie_plugin() {
    local package=$1 plugin=$2 dir
    need_root "docker $plugin"
    dir=$(mktemp -d)
    mkdir -p "$dir/sources.list.d" "$dir/lists/partial" "$dir/archives"
    echo "deb http://deb.debian.org/debian trixie main" > "$dir/sources.list.d/trixie.list"
    local opts=(-o Dir::Etc::sourcelist=/dev/null -o Dir::Etc::sourceparts="$dir/sources.list.d"
                -o Dir::State::Lists="$dir/lists" -o Dir::Cache::archives="$dir/archives"
                -o Debug::NoLocking=1)
    apt-get "${opts[@]}" update -qq
    (cd "$dir/archives" && apt-get "${opts[@]}" download -qq "$package")
    dpkg -x "$dir"/archives/"${package}"_*.deb "$dir/root"
    mkdir -p /usr/local/lib/docker/cli-plugins
    install -m 0755 "$dir/root/usr/libexec/docker/cli-plugins/docker-$plugin" \
        /usr/local/lib/docker/cli-plugins/
    rm -rf "$dir"
    log "installed docker $plugin from trixie's $package"
}

[ "${1:-}" = "--debootstrap" ] && { command -v debootstrap >/dev/null || apt_install debootstrap; exit 0; }
command -v dockerd >/dev/null || apt_install docker.io
docker compose version >/dev/null 2>&1 || trixie_plugin docker-compose compose
docker buildx version >/dev/null 2>&1 || trixie_plugin docker-buildx buildx

if ! docker info >/dev/null 2>&1; then
    need_root dockerd
    dockerd >"${DOCKERD_LOG:-/tmp/model-pkg-dockerd.log}" 2>&1 &
    pid=$!
    for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
    docker info >/dev/null 2>&1 || { log "dockerd did not start (see its log)"; exit 1; }
    echo "started $pid"
fi
