#!/usr/bin/env bash
# Session 13 call 9 (H200): the keys-major kernel with two n-tiles of rows (9-16 packed rows per KV head: G 4 at
# q_len 4, G 8 at 2, G 16), build-s13h, which the planner now takes up to 16 rows, against build-s13g (main: the
# 16-row kernel there). Decode tests on s13h, memcheck on the keys-major PDL test, then bench_attention latency
# (the one-n-tile shapes: the kernel's code changed form) and rows (planned), a b b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c9.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
OLD=build-s13g/carry NEW=build-s13h/carry
LD_LIBRARY_PATH=$PWD/$NEW timeout 300 $NEW/test_backend_cuda --gtest_filter='*Decode*' > $OUT/test_decode.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_decode.txt | tail -8
grep -m3 -A8 "Failure" $OUT/test_decode.txt | head -30
LD_LIBRARY_PATH=$PWD/$NEW timeout 200 $CS --tool memcheck $NEW/test_backend_cuda --gtest_filter='*DecodeKeysKernelProgrammaticLaunch*:*DecodeLatencyPlans*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in a b b a; do
  i=$((i + 1)); A=$OLD; [[ $v == b ]] && A=$NEW
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention rows > $OUT/bench_rows_$i$v.txt 2>&1
  echo "rows $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_rows_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}'
done
