#!/usr/bin/env bash
# Session 14 call 1 (H200): the sm90 prefill's last tile narrowed to the keys its warpgroup's rows see (32, 64 or
# 128; build-s14a) and, on top, the cp.async producer reading only up to the work's kv_end (build-s14b), against
# main (build-s13i). Prefill tests and memcheck on s14b, then P 16 / P 64 / contiguous 1k-16k, chunked, mixed and
# head dim 64, rounds a b c / c b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s14/c1.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
date -u; nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv
SECONDS=0
F='*Prefill*'
for v in a b; do X=build-s14$v/carry
  LD_LIBRARY_PATH=$PWD/$X timeout 200 $X/test_backend_cuda --gtest_filter="$F" > $OUT/tests_$v.txt 2>&1
  echo "tests s14$v rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/tests_$v.txt | tail -6
  grep -m3 -A8 "Failure" $OUT/tests_$v.txt | head -30
done
X=build-s14b/carry
LD_LIBRARY_PATH=$PWD/$X timeout 150 $CS --tool memcheck $X/test_backend_cuda --gtest_filter='*PrefillSm90Sweep*:*PrefillSm90PagesNanTails*:*PrefillChunked*' > $OUT/memcheck.txt 2>&1
echo "memcheck rc=$? ${SECONDS}s $(grep 'ERROR SUMMARY' $OUT/memcheck.txt | tail -1)"
fmt() { python3 -c "
import sys, json
for l in sys.stdin:
    tag, _, js = l.partition(' {')
    try: d = json.loads('{' + js)
    except Exception: continue
    print(tag, d['op'], d['impl'], d.get('d', ''), d.get('seqs', d.get('seq', ''))[:40], d.get('batch', ''), d.get('q_len', ''), d.get('kv_len', ''), d['us'], d['tflops'])
"; }
r=0
for order in "s13i s14a s14b" "s14b s14a s13i"; do r=$((r + 1))
  for v in $order; do X=build-$v/carry; export LD_LIBRARY_PATH=$PWD/$X
    timeout 60 $X/bench_attention prefill-default 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 60 $X/bench_attention prefill-page 64 1024 2048 4096 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 60 $X/bench_attention prefill-page 0 1024 2048 4096 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/prefill.txt
    timeout 90 $X/bench_attention prefill-chunk 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/chunk.txt
    timeout 60 $X/bench_attention prefill-mixed "100:100*64" "512:512*8,2048:2048*4,1024:1024*4" "128:4096*16,2048:2048*2" 2>/dev/null | sed "s/^/$v r$r /" >> $OUT/mixed.txt
    echo "$v r$r ${SECONDS}s"
  done
done
for f in prefill chunk mixed; do echo "== $f"; fmt < $OUT/$f.txt | sort -s -k3,3 -k4,4 -k5,5n -k6,6 -k7,7n; done
for v in s13i s14b; do X=build-$v/carry; export LD_LIBRARY_PATH=$PWD/$X
  timeout 120 $X/bench_attention prefill-d64 2>/dev/null | sed "s/^/$v /" >> $OUT/d64.txt; echo "d64 $v ${SECONDS}s"
done
echo "== d64"; fmt < $OUT/d64.txt | sort -s -k3,3 -k5,5n -k6,6
date -u
