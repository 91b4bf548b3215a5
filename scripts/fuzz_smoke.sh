#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in their own build dir and runs each for
# FUZZ_SECONDS (default 60) from the committed seed corpus. Exits non-zero on any finding; crash
# inputs are left in the build dir's fuzz-artifacts/ folder.
# Usage: scripts/fuzz_smoke.sh [build-dir]   (env: FUZZ_SECONDS, FUZZ_JOBS, CC, CXX)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build-fuzz}"
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_JOBS:-2}"
export CC="${CC:-clang}" CXX="${CXX:-clang++}"

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPAGODA_FUZZ=ON -DPAGODA_TESTS=OFF \
  -DPAGODA_CUDA=OFF >"$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
targets=(gguf safetensors chat_template tokenizer_json)
cmake --build "$build" $(printf -- '--target fuzz_%s ' "${targets[@]}") -j "$jobs"

status=0
for target in "${targets[@]}"; do
  # libFuzzer adds what it finds to the first corpus dir; keep the committed seeds read-only.
  work="$build/fuzz-corpus/$target"
  artifacts="$build/fuzz-artifacts/$target/"
  mkdir -p "$work" "$artifacts"
  echo "== fuzz_$target for ${seconds}s"
  if ! "$build/fuzz/fuzz_$target" "$work" "$root/fuzz/corpus/$target" -max_total_time="$seconds" \
      -max_len=8192 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$artifacts" -print_final_stats=1; then
    echo "fuzz_$target: FINDING (inputs in $artifacts)" >&2
    status=1
  fi
done
exit $status
