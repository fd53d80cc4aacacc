#!/usr/bin/env bash
# Installs slipway's build and test dependencies from Debian's archive.
# Idempotent: packages already present are left alone; apt-get update runs only when needed.
#   packaging/install-deps.sh              build + test dependencies
#   packaging/install-deps.sh --ci         also the test-only tools (chromium, xmllint, zsh)
#   packaging/install-deps.sh --build-only only what building slipway needs (Dockerfile, action.yml)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config git
  libcli11-dev libyaml-cpp-dev libcurl4-openssl-dev libspdlog-dev libfmt-dev
  nlohmann-json3-dev libgtest-dev libgmock-dev libbenchmark-dev
  libkainjow-mustache-dev libexpected-dev
)
# Real components the tests and the local demo start on 127.0.0.1.
runtime_pkgs=(nginx-light prometheus wrk hey openssl curl python3 ca-certificates procps bc make docker-registry)
ci_pkgs=(chromium libxml2-utils zsh)

case "${1:-}" in
  "") want=("${build_pkgs[@]}" "${runtime_pkgs[@]}") ;;
  --ci) want=("${build_pkgs[@]}" "${runtime_pkgs[@]}" "${ci_pkgs[@]}") ;;
  --build-only) want=("${build_pkgs[@]}") ;;
  *) echo "usage: $0 [--ci | --build-only]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Update the package lists only if they are missing or older than a day.
if [[ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -mmin -1440 2>/dev/null | head -1)" ]]; then
  $SUDO apt-get update -q
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's nginx, prometheus and docker-registry (the OCI chart registry of the test cluster) packages
# start system services on install; slipway's tests
# start their own instances on private ports, so stop the system ones if they were started.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  $SUDO systemctl disable --now nginx prometheus prometheus-node-exporter docker-registry >/dev/null 2>&1 || true
fi
