#!/usr/bin/env bash
# Session 10 call 1 (H200): the cluster split merge, first form (build-s10a). The new test, the decode tests,
# memcheck and racecheck on the new test, then bench_attention cluster (B1 8k / 32k / 128k at 8 and 16 splits:
# global merge, cluster merge, and the plan; two rounds).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c1.tar.xz').extractall('.')"
A=build-s10a/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv,noheader
timeout 120 $A/test_backend_cuda --gtest_filter='*DecodeClusterMerge*' > $OUT/test_cluster.txt 2>&1
echo "cluster test rc=$? ${SECONDS}s"; tail -5 $OUT/test_cluster.txt
timeout 200 $A/bench_attention cluster > $OUT/bench_cluster.txt 2>&1
echo "bench rc=$? ${SECONDS}s"; cat $OUT/bench_cluster.txt | grep -v nograph
timeout 150 $A/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "decode tests rc=$? ${SECONDS}s"; grep -E "PASSED|FAILED|OK \]" $OUT/test_decode.txt | tail -20
for tool in memcheck racecheck; do
  timeout 100 $CS --tool $tool $A/test_backend_cuda --gtest_filter='*DecodeClusterMerge*' > $OUT/${tool}_cluster.txt 2>&1
  echo "$tool rc=$? ${SECONDS}s $(grep -E 'SUMMARY' $OUT/${tool}_cluster.txt | tail -1)"
done
