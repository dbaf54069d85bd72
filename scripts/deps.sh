#!/usr/bin/env bash
# Installs the Debian packages oxistore needs to build, test and run. Idempotent: asks
# apt-get only for what dpkg says is missing. The one place that installs system packages.
#
#   scripts/deps.sh                  everything to build, test and run here (make deps)
#   scripts/deps.sh --image-build    the Dockerfile's build stage: compiler, -dev packages
#   scripts/deps.sh --image-runtime  the Dockerfile's runtime stage: runtime libraries only
#   scripts/deps.sh --list PROFILE   prints a profile's packages (dev, image-build,
#                                    image-runtime), one a line, and installs nothing
# With OX_DEPS_NO_INSTALL=1 it installs nothing and fails, naming what is missing (the
# Dockerfile test runs the build stage's steps on the host this way: no network).
# gnuplot-nox draws the throughput plot of `make bench` (BENCHMARKS.md); python3-redis is
# redis-py, whose Sentinel client the failover test asks for the new master; python3-celery
# is Celery and kombu, whose worker and client test_celery runs against the server.
set -euo pipefail

PKGS=(build-essential clang pkg-config liblmdb-dev lmdb-utils libevent-dev
      liblua5.1-0-dev lua-cjson-dev lua-bitop-dev
      libhiredis-dev redis-tools redis-server nutcracker gnuplot-nox python3-redis
      python3-celery)
# Debian bookworm names: the image is FROM debian:bookworm(-slim). The build packages must
# stay a subset of PKGS (tests/docker/test_dockerfile.sh checks it) so that the test of
# the build stage finds them installed. redis-tools in the runtime stage is for HEALTHCHECK.
IMAGE_BUILD_PKGS=(build-essential pkg-config liblmdb-dev libevent-dev liblua5.1-0-dev
                  lua-cjson-dev lua-bitop-dev)
IMAGE_RUNTIME_PKGS=(liblmdb0 libevent-2.1-7 libevent-pthreads-2.1-7 liblua5.1-0 lua-cjson
                    lua-bitop redis-tools)

profile_pkgs() {
  case "$1" in
    dev) printf '%s\n' "${PKGS[@]}" ;;
    image-build) printf '%s\n' "${IMAGE_BUILD_PKGS[@]}" ;;
    image-runtime) printf '%s\n' "${IMAGE_RUNTIME_PKGS[@]}" ;;
    *) echo "deps.sh: unknown profile '$1' (dev, image-build, image-runtime)" >&2; return 1 ;;
  esac
}

case "${1:-}" in
  "") ;;
  --image-build) PKGS=("${IMAGE_BUILD_PKGS[@]}") ;;
  --image-runtime) PKGS=("${IMAGE_RUNTIME_PKGS[@]}") ;;
  --list) profile_pkgs "${2:-dev}"; exit ;;
  *) echo "usage: scripts/deps.sh [--image-build | --image-runtime | --list PROFILE]" >&2
     exit 2 ;;
esac

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: this is not a Debian/Ubuntu system (no dpkg/apt-get)." >&2
  echo "deps.sh: install by hand: a C11 compiler, clang, pkg-config, LMDB, libevent," >&2
  echo "deps.sh: hiredis (headers and libraries), redis-tools/redis-server and nutcracker." >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "${OX_DEPS_NO_INSTALL:-0}" = 1 ]; then
  echo "deps.sh: missing packages: ${missing[*]} (OX_DEPS_NO_INSTALL=1: not installing)" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps.sh: missing packages: ${missing[*]}; run as root or install sudo." >&2
    exit 1
  fi
fi
echo "deps.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
# The Debian redis-server and nutcracker packages start no daemon without systemd; tests
# start their own.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
