#!/usr/bin/env bash
# Installs everything Pagoda needs on a fresh Debian 12 machine; safe to run again.
#   Debian packages (apt-get): compilers, CMake, and the C++ libraries Pagoda links.
#   Python test tooling (pip, in a virtual environment at $PAGODA_VENV, default .venv):
#   the independent references the tests compare against.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  build-essential cmake pkg-config git ca-certificates
  nlohmann-json3-dev libfmt-dev libcli11-dev libpcre2-dev libxxhash-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev libomp-dev libboost-dev
  clang libclang-rt-14-dev
  python3 python3-pip python3-venv
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

venv="${PAGODA_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.requirements-installed"
if [ ! -f "$stamp" ] || ! cmp -s scripts/requirements-test.txt "$stamp"; then
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet -r scripts/requirements-test.txt
  cp scripts/requirements-test.txt "$stamp"
fi
echo "setup: done"
