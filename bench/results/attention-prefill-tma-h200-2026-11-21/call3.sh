#!/usr/bin/env bash
# prefill-tma call 3: the committed rule (TMA at P = 64 and multiples of 128). Tests of the final build
# (no knob: f/), TMA at the small pages still correct in the knob build (m/, PAGODA_PREFILL_TMA=2),
# memcheck / racecheck on the TMA-dispatched NaN-tail test; then interleaved A/B: P = 16 base (7c86876)
# vs final, P = 32 forced TMA vs cp.async, P = 64 / 128 / contiguous TMA vs cp.async; host cost per call
# at P = 64; peers (SDPA flash / cuDNN) on the last round.
set -uo pipefail
python3 -c "import tarfile;tarfile.open('build-tma-s5/c.tar.xz').extractall('build-tma-s5/x')" || exit 1
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export PYTHONUNBUFFERED=1
F=build-tma-s5/x/f M=build-tma-s5/x/m
export LD_LIBRARY_PATH=$PWD/$F
O=$OUT/o
mkdir -p $O
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > $O/device.txt 2>&1
CS=compute-sanitizer
( timeout 150 $F/test_backend_cuda > $O/tests_final.log 2>&1; echo "tests final rc=$?" ) &
( PAGODA_PREFILL_TMA=2 timeout 150 $M/test_backend_cuda --gtest_filter='*PrefillSm90*:*PrefillLong*:*ContiguousEqualsPaged*' > $O/tests_knob2.log 2>&1; echo "tests knob2 rc=$?" ) &
( timeout 170 $CS --tool memcheck --leak-check no $F/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails*:*PrefillSm90IsDispatched*' > $O/memcheck_final.log 2>&1; echo "memcheck rc=$?" ) &
( timeout 170 $CS --tool racecheck $F/test_backend_cuda --gtest_filter='*PrefillSm90PagesNanTails*' > $O/racecheck_final.log 2>&1; echo "racecheck rc=$?" ) &
wait
for f in $O/tests_*.log $O/memcheck_final.log $O/racecheck_final.log; do
  echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep -E '^\[  (PASSED|FAILED) ' $f | tr '\n' ' ') $(grep -c Failure $f) failures"
done
B=$M/bench_attention
L="1024 2048 4096 8192 16384"
for r in 1 2; do
  timeout 40 $M/bench_attention_base prefill-default 2>/dev/null | sed -E 's/"pagoda-paged16"/"pagoda-paged16-base"/' | sed "s/^/r$r /" >> $O/ab.txt
  timeout 40 $B prefill-page 16 $L 2>/dev/null | sed "s/^/r$r /" >> $O/ab.txt
  for P in 32; do
    PAGODA_PREFILL_TMA=2 timeout 40 $B prefill-page $P $L 2>/dev/null | sed -E "s/\"pagoda-paged$P\"/\"pagoda-paged$P-tma\"/" | sed "s/^/r$r /" >> $O/ab.txt
    PAGODA_PREFILL_TMA=0 timeout 40 $B prefill-page $P $L 2>/dev/null | sed -E "s/\"pagoda-paged$P\"/\"pagoda-paged$P-cpasync\"/" | sed "s/^/r$r /" >> $O/ab.txt
  done
  for P in 64 128 0; do
    n=$([[ $P == 0 ]] && echo contig || echo paged$P)
    PAGODA_PREFILL_TMA=1 timeout 40 $B prefill-page $P $L 2>/dev/null | sed -E "s/\"pagoda-$n\"/\"pagoda-$n-tma\"/" | sed "s/^/r$r /" >> $O/ab.txt
    PAGODA_PREFILL_TMA=0 timeout 40 $B prefill-page $P $L 2>/dev/null | sed -E "s/\"pagoda-$n\"/\"pagoda-$n-cpasync\"/" | sed "s/^/r$r /" >> $O/ab.txt
  done
done
python3 - $O/ab.txt <<'PY'
import json, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    rnd, js = line.split(" ", 1)
    d = json.loads(js)
    t[(d["impl"], d["seq"])].append(d["tflops"])
impls = sorted({k[0] for k in t})
for i in impls:
    print(f"{i:26s}", " ".join(f"{L}:{'/'.join(f'{x:.1f}' for x in t[(i, L)])}" for L in (1024, 2048, 4096, 8192, 16384)))
PY
for v in 1 0 1 0; do PAGODA_PREFILL_TMA=$v timeout 60 $B prefill-host 64 2>/dev/null | grep prefill-host | sed "s/^/tma=$v /"; done | tee $O/prefill_host.txt
grep '^r2 ' $O/ab.txt | cut -d' ' -f2- > $O/r2.jsonl
timeout 150 python3 bench/attention/bench_peers.py $O/r2.jsonl $O/results_prefill.md prefill 2>&1 | tail -8
cd $OUT && tar czf o.tgz o && rm -rf o
