#!/usr/bin/env bash
# Configures and builds Pagoda (Release) into ${PAGODA_BUILD_DIR:-build}.
# PAGODA_CUDA=ON|OFF|AUTO (default AUTO: the CUDA backend is built when nvcc is found).
set -euo pipefail
cd "$(dirname "$0")/.."
build="${PAGODA_BUILD_DIR:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DPAGODA_CUDA="${PAGODA_CUDA:-AUTO}" \
  -DPython3_EXECUTABLE="$PWD/${PAGODA_VENV:-.venv}/bin/python" >/dev/null
cmake --build "$build" -j"$(nproc)"
