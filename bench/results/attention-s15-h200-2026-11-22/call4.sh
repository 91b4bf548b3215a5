#!/usr/bin/env bash
# Session 15 call 4 (H200): the unified-max split merge (build-s15b: DecodePlan::unified_max_merge, keys-major
# kernel; flash_decode_sum_merge.cuh). The whole test_backend_cuda and memcheck on the new test, then
# bench_attention unified-max (exact / unified-max merge interleaved, same binary) and latency on main
# (build-s14z) and s15b, z b b z.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
source bench/attention/call_helpers.sh
carry_extract build-carryxz-s15/c4.tar.xz
fixtures_link
CS=$(sanitizer_path)
SECONDS=0
NEW=build-s15b/carry
LD_LIBRARY_PATH=$PWD/$NEW timeout 300 $NEW/test_backend_cuda > $OUT/tests.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/tests.txt | tail -8
grep -m3 -A8 "Failure" $OUT/tests.txt | head -30
LD_LIBRARY_PATH=$PWD/$NEW timeout 150 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeUnifiedMax*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
LD_LIBRARY_PATH=$PWD/$NEW timeout 100 $NEW/bench_attention unified-max > $OUT/bench_um.txt 2>&1
echo "unified-max rc=$? ${SECONDS}s"; fmt_decode < $OUT/bench_um.txt
i=0
for v in 14z 15b 15b 14z; do i=$((i + 1)); A=build-s$v/carry
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i-$v.txt 2>&1
  echo "latency $i $v rc=$? ${SECONDS}s"; fmt_decode < $OUT/bench_latency_$i-$v.txt | grep -v ceiling | awk '{print "'$v'", $0}' >> $OUT/all_latency.txt
done
echo "== latency"; sort -s -k2,2 -k3,3n -k4,4n -k6,6n -k1,1 $OUT/all_latency.txt
