#!/usr/bin/env bash
# Session 14 call 11 (H200): the decode tests on the tree after the review mend (build-s14y; the keys-major test's
# row rule names DECODE_KEYS_NTILE_ROWS, no kernel change).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
source bench/attention/call_helpers.sh
carry_extract build-carryxz-s14/c11.tar.xz
fixtures_link
X=build-s14y/carry
SECONDS=0
LD_LIBRARY_PATH=$PWD/$X timeout 300 $X/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
