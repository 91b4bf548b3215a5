#!/usr/bin/env bash
# Session 10 call 13 (H200): the review-mended bench (build-s10k: READ_PRE_ALL constant, build_carry flag stamps)
# still runs and labels the chained read ceilings as before: bench_attention ceiling-pdl, B1 8k lines of round 1.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c13.tar.xz').extractall('.')"
A=build-s10k/carry
LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention ceiling-pdl > $OUT/bench_ceiling_pdl.txt 2>&1
echo "rc=$?"; grep -v nograph $OUT/bench_ceiling_pdl.txt | head -9
