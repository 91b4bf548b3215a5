#!/usr/bin/env bash
# prefill-tma call 1 (run from the repo root on the device machine; binaries in build-tma-s5/c.tar.xz:
# the TMA build with the PAGODA_PREFILL_TMA knob, and bench_attention_base = 7c86876's bench). A gate
# (the new NaN-tail test), then tests, memcheck and racecheck in parallel, then the interleaved A/B
# (base, TMA on, TMA off in one binary), the host cost per call, and the peers on the A/B's last round.
set -uo pipefail
python3 -c "import tarfile;tarfile.open('build-tma-s5/c.tar.xz').extractall('build-tma-s5/x/carry')" || exit 1
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export PAGODA_ATTN_BUILD=build-tma-s5/x PYTHONUNBUFFERED=1
C=$PAGODA_ATTN_BUILD/carry
T=$C/test_backend_cuda
export LD_LIBRARY_PATH=$PWD/$C
O=$OUT/o
mkdir -p $O
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > $O/device.txt 2>&1
timeout 90 $T --gtest_filter='*PrefillSm90PagesNanTails*' > $O/gate.log 2>&1
g=$?
echo "gate rc=$g $(grep -E '^\[  (PASSED|FAILED) ' $O/gate.log | tr '\n' ' ')"
if [[ $g != 0 ]]; then
  grep -E "Failure|mismatch|error|prefill-sm90" $O/gate.log | head -20
  PAGODA_PREFILL_TMA=0 timeout 60 $T --gtest_filter='*PrefillSm90PagesNanTails*' > $O/gate_cpasync.log 2>&1
  echo "gate cp.async rc=$?"
  cd $OUT && tar czf o.tgz o && rm -rf o
  exit 1
fi
CS=compute-sanitizer
F='*PrefillSweep*:*PrefillSm90*:*PrefillLong*:*ContiguousEqualsPaged*'
( timeout 200 $T > $O/tests_tma.log 2>&1; echo "tests all (TMA) rc=$?" ) &
( PAGODA_PREFILL_TMA=0 timeout 200 $T --gtest_filter="$F" > $O/tests_cpasync.log 2>&1; echo "tests prefill (cp.async) rc=$?" ) &
( timeout 200 $CS --tool memcheck --leak-check no $T --gtest_filter='*PrefillSm90IsDispatched*:*ContiguousEqualsPaged*:*PrefillLong4097*' > $O/memcheck.log 2>&1; echo "memcheck rc=$?" ) &
( timeout 200 $CS --tool racecheck $T --gtest_filter='*PrefillSm90IsDispatched*:*PrefillContiguousEqualsPaged*' > $O/racecheck.log 2>&1; echo "racecheck rc=$?" ) &
wait
for f in $O/tests_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED) ' $f | tr '\n' ' ') $(grep -c Failure $f) failures"; done
for f in $O/memcheck.log $O/racecheck.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep -E '^\[  (PASSED|FAILED) ' $f | tr '\n' ' ')"; done
AB_ROUNDS=2 AB_VARIANTS="PAGODA_PREFILL_TMA=1 PAGODA_PREFILL_TMA=0" OUT=$O bash bench/attention/gpu_session.sh prefill-ab > /dev/null
python3 - $O/prefill_ab.txt <<'PY'
import json, sys, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tag, rnd, js = line.split(" ", 2)
    d = json.loads(js)
    t[tag].append((d["seq"], d["tflops"]))
for tag, v in t.items():
    by = collections.defaultdict(list)
    for L, x in v: by[L].append(x)
    print(f"{tag:24s}", " ".join(f"{L}:{'/'.join(f'{x:.1f}' for x in xs)}" for L, xs in sorted(by.items())))
PY
for v in 1 0 1 0; do PAGODA_PREFILL_TMA=$v timeout 60 $C/bench_attention prefill-host 2>/dev/null | grep prefill-host | sed "s/^/tma=$v /"; done | tee $O/prefill_host.txt
# Peers on the A/B's second round (impl renamed per build so one table holds all three).
grep ' r2 ' $O/prefill_ab.txt | sed -E 's/^base r2 (.*)"pagoda-paged16"/\1"pagoda-base-7c86876"/; s/^PAGODA_PREFILL_TMA=1 r2 (.*)"pagoda-paged16"/\1"pagoda-tma"/; s/^PAGODA_PREFILL_TMA=0 r2 (.*)"pagoda-paged16"/\1"pagoda-cpasync"/' > $O/prefill_r2.jsonl
timeout 150 python3 bench/attention/bench_peers.py $O/prefill_r2.jsonl $O/results_prefill.md prefill 2>&1 | tail -12
cd $OUT && tar czf o.tgz o && rm -rf o
