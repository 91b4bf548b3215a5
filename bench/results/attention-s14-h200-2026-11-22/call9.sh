#!/usr/bin/env bash
# Session 14 call 9 (H200): the ping-pong prefill with one turn per tile across work boundaries (build-s14k: a work's
# last P V goes with the next work's first Q K^T, the finished work's rows stored after that turn; its store fields in
# shared memory), against main (build-s13i). Prefill tests and memcheck on s14k, then P 16 / P 64 / contiguous 1k-4k,
# chunked and mixed, a b / b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s14/c9.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
SECONDS=0
X=build-s14k/carry
LD_LIBRARY_PATH=$PWD/$X timeout 200 $X/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/tests.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/tests.txt | tail -6
grep -m3 -A8 "Failure" $OUT/tests.txt | head -30
LD_LIBRARY_PATH=$PWD/$X timeout 150 $CS --tool memcheck $X/test_backend_cuda --gtest_filter='*PrefillSm90Sweep*:*PrefillChunked*:*PrefillWorkQueue*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
LD_LIBRARY_PATH=$PWD/$X timeout 100 $CS --tool racecheck $X/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails*' > $OUT/racecheck.txt 2>&1
echo "racecheck rc=$? ${SECONDS}s $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.txt | tail -1)"
fmt() { python3 -c "
import sys, json
for l in sys.stdin:
    tag, _, js = l.partition(' {')
    try: d = json.loads('{' + js)
    except Exception: continue
    print(tag, d['op'], d['impl'], d.get('d', ''), str(d.get('seqs', d.get('seq', '')))[:40], d.get('batch', ''), d.get('q_len', ''), d.get('kv_len', ''), d['us'], d['tflops'])
"; }
r=0
for order in "s13i s14k" "s14k s13i"; do r=$((r + 1))
  for v in $order; do X=build-$v/carry; export LD_LIBRARY_PATH=$PWD/$X
    timeout 60 $X/bench_attention prefill-default 1024 2048 4096 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 60 $X/bench_attention prefill-page 64 1024 2048 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 60 $X/bench_attention prefill-page 0 1024 2048 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 90 $X/bench_attention prefill-chunk 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/chunk.txt
    timeout 60 $X/bench_attention prefill-mixed "100:100*64" "512:512*8,2048:2048*4,1024:1024*4" "128:4096*16,2048:2048*2" 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/mixed.txt
    echo "$v r$r ${SECONDS}s"
  done
done
for f in prefill chunk mixed; do echo "== $f"; fmt < $OUT/$f.txt | sort -s -k3,3 -k4,4 -k5,5n -k6,6 -k7,7n; done
