#!/usr/bin/env bash
# Session 9 call 7 (H200): the 16-row and pair decode kernels' shared start (decode_cta_start,
# decode_prewait_tiles; build-s9i) against the decode of main (build-s9h: decode unchanged since 79d69e1).
# B1 latency, MQA and the rows shapes before/after, the decode tests on s9i, the shapes again.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c7.tar.xz').extractall('.')"
export LD_LIBRARY_PATH=$PWD/build-s9i/carry:${LD_LIBRARY_PATH:-}
date -u
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
ab() {
  for v in h i; do
    for m in latency mqa rows; do
      timeout 30 build-s9$v/carry/bench_attention $m 2>/dev/null | grep -v nograph | grep -v ceiling | sed "s/^/s9$v r$1 $m /" >> $OUT/decode_ab.txt
    done
    echo "s9$v r$1 ${SECONDS}s"
  done
}
ab 1
timeout 100 build-s9i/carry/test_backend_cuda --gtest_filter='*Decode*' > $OUT/tests.txt 2>&1
echo "decode tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED) |FAILED" $OUT/tests.txt | head
ab 2
date -u
