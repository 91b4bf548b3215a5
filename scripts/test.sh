#!/usr/bin/env bash
# Sets up, builds, fetches the default model and runs every test that needs no GPU (ctest),
# then a short fuzz run of each parser. GPU tests are built too and skip themselves without a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh
build="${PAGODA_BUILD_DIR:-build}"
"$build/bin/pagoda" fetch
# Tests run in parallel on few cores: OpenMP threads that spin while another test holds the core
# waste it, so they sleep instead (benchmarks keep the default spinning).
OMP_WAIT_POLICY=PASSIVE ctest --test-dir "$build" --output-on-failure -j"$(nproc)"
if [ -x scripts/fuzz_smoke.sh ]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-30}" scripts/fuzz_smoke.sh
fi
