#!/usr/bin/env bash
# prefill-s5 call 3 (run from build-pf-s5/ on the device machine; binaries in c.tar.xz): tests and
# sanitizers of every candidate, interleaved A/B against the base build, D = 64 check, final table with peers.
set -uo pipefail
python3 -c "import tarfile;tarfile.open('c.tar.xz').extractall('build-final/pf/carry')" || exit 1
export PAGODA_ATTN_BUILD=build-final/pf PYTHONUNBUFFERED=1
C=$PAGODA_ATTN_BUILD/carry
export LD_LIBRARY_PATH=$PWD/$C
O=$OUT/o
mkdir -p $O
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > $O/device.txt 2>&1
F='*PrefillSweep*:*PrefillSm90*:*PrefillLong*:*ContiguousEqualsPaged*'
T=$C/test_backend_cuda
CS="compute-sanitizer"
( timeout 170 $T > $O/tests_default.log 2>&1; echo "tests default(pp-s3) rc=$?" ) &
for v in serial serial-s3 serial-s3-fs pp-s3-fs pp-s3-pers; do
  ( PAGODA_SM90_EXP=$v timeout 150 $T --gtest_filter="$F" > $O/tests_$v.log 2>&1; echo "tests $v rc=$?" ) &
done
( timeout 170 $CS --tool memcheck --leak-check no $T --gtest_filter='*KvAppendRope:*GraphCapture*:*InitializedWorkspace*:*ContiguousEqualsPaged*:*PrefillSm90IsDispatched*:*PrefillLong4097*' > $O/memcheck_default.log 2>&1; echo "memcheck default rc=$?" ) &
( PAGODA_SM90_EXP=pp-s3-pers timeout 170 $CS --tool memcheck --leak-check no $T --gtest_filter='*PrefillSm90IsDispatched*:*PrefillLong4097*' > $O/memcheck_pers.log 2>&1; echo "memcheck pers rc=$?" ) &
( timeout 170 $CS --tool racecheck $T --gtest_filter='*ContiguousEqualsPaged*:*BatchedPagedEqualsSingle*:*PrefillSm90IsDispatched*' > $O/racecheck_default.log 2>&1; echo "racecheck default rc=$?" ) &
( PAGODA_SM90_EXP=pp-s3-pers timeout 170 $CS --tool racecheck $T --gtest_filter='*PrefillLong4097*' > $O/racecheck_pers.log 2>&1; echo "racecheck pers rc=$?" ) &
wait
for f in $O/tests_*.log; do echo "$(basename $f): $(grep -E '^\[  (PASSED|FAILED) ' $f | tr '\n' ' ') $(grep -c Failure $f) failures"; done
for f in $O/memcheck_*.log $O/racecheck_*.log; do echo "$(basename $f): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep -E '^\[  (PASSED|FAILED) ' $f | tr '\n' ' ')"; done
AB_ROUNDS=2 AB_VARIANTS="PAGODA_SM90_EXP=serial PAGODA_SM90_EXP=serial-s3 PAGODA_SM90_EXP=serial-s3-fs PAGODA_SM90_EXP=pp-s3 PAGODA_SM90_EXP=pp-s3-fs PAGODA_SM90_EXP=pp-s3-pers" \
  OUT=$O bash bench/attention/gpu_session.sh prefill-ab > /dev/null
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
    print(f"{tag:32s}", " ".join(f"{L}:{'/'.join(f'{x:.1f}' for x in xs)}" for L, xs in sorted(by.items())))
PY
for b in bench_attention_base bench_attention; do timeout 60 $C/$b prefill-d64 2>/dev/null | grep -E '"pagoda-paged16"|sm90' | sed "s/^/$b /"; done > $O/d64_ab.txt
grep '"pagoda-paged16"' $O/d64_ab.txt | sed -E 's/.*(bench_attention[a-z_]*) .*"h":([0-9]+).*"seq":([0-9]+).*"tflops":([0-9.]+).*/\1 H\2 \3 \4/' | paste - - - - - | head -8
timeout 60 $C/bench_attention prefill > $O/prefill_final.jsonl 2>/dev/null
timeout 150 python3 bench/attention/bench_peers.py $O/prefill_final.jsonl $O/results_prefill.md prefill 2>&1 | tail -9
cd $OUT && tar czf o.tgz o && rm -rf o
