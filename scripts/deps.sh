#!/usr/bin/env bash
# Installs the Debian packages oxistore needs to build, test and run. Idempotent: asks
# apt-get only for what dpkg says is missing. The one place that installs system packages.
# gnuplot-nox draws the throughput plot of `make bench` (BENCHMARKS.md).
set -euo pipefail

PKGS=(build-essential clang pkg-config liblmdb-dev lmdb-utils libevent-dev
      libhiredis-dev redis-tools redis-server gnuplot-nox)

if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
  echo "deps.sh: this is not a Debian/Ubuntu system (no dpkg/apt-get)." >&2
  echo "deps.sh: install by hand: a C11 compiler, clang, pkg-config, LMDB, libevent," >&2
  echo "deps.sh: hiredis (headers and libraries) and redis-tools/redis-server." >&2
  exit 1
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "deps.sh: missing packages: ${missing[*]}; run as root or install sudo." >&2
    exit 1
  fi
fi
echo "deps.sh: installing ${missing[*]}"
$SUDO apt-get update -qq
# The Debian redis-server package starts no daemon without systemd; tests start their own.
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
