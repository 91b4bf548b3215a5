#!/usr/bin/env bash
# Session 15 call 5 (H200): the unified-max merge's out-of-range test with the 8 x 3 kernel (call 4 asked for
# 8 x 2, which has no two-n-tile form: the test's own error), and memcheck on it (build-s15b, the tree of
# dev/kernels/decode_keys_unified_max_sum.patch).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
source bench/attention/call_helpers.sh
carry_extract build-carryxz-s15/c5.tar.xz
fixtures_link
CS=$(sanitizer_path)
SECONDS=0
NEW=build-s15b/carry
LD_LIBRARY_PATH=$PWD/$NEW timeout 120 $NEW/test_backend_cuda --gtest_filter='*UnifiedMax*:*DecodeKeysKernelSweep*' > $OUT/tests.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED|OK" $OUT/tests.txt | tail -8
grep -m3 -A8 "Failure" $OUT/tests.txt | head -30
LD_LIBRARY_PATH=$PWD/$NEW timeout 200 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeUnifiedMax*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
