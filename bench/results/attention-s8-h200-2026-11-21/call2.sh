#!/usr/bin/env bash
# Session 8 call 2 (H200): the two-level split merge and the pair kernel's barrier pad (notes 35).
# before = build-s8 (1a5999d), after = build-s8b (working tree: two-level merge + pad), both from
# bench/attention/build_carry.sh; packed with the racecheck controls into build-carryxz-s8/c.tar.xz.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s8/c.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
A=build-s8b/carry BEF=build-s8/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
date -u; $CS --version | tail -1
timeout 200 $A/test_backend_cuda --gtest_filter='*Decode*:*KvAppend*' > $OUT/tests.txt 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED|OK \]" $OUT/tests.txt | head -30
for t in DecodePairKernelSweep DecodePairKernelProgrammaticLaunch DecodeManySplits; do
  echo "== racecheck $t"
  timeout 150 $CS --tool racecheck $A/test_backend_cuda --gtest_filter="*$t" > $OUT/racecheck_$t.txt 2>&1; echo "rc=$?"
  grep -E "RACECHECK SUMMARY|PASSED|FAILED" $OUT/racecheck_$t.txt | head -4
done
timeout 200 $A/bench_attention merge > $OUT/merge.jsonl 2>&1; echo "merge rc=$?"
grep -v nograph $OUT/merge.jsonl | python3 -c "
import sys, json
for l in sys.stdin:
    try: r = json.loads(l)
    except Exception: print(l.strip()); continue
    print(r['impl'], 'hkv', r['hkv'], 'q', r['q_len'], 'ctx', r['ctx'], 'splits', r['splits'], 'rows', r['rows_per_cta'], 'ks', r['key_streams'], 'gs', r['merge_gs'], 'us', r['us'], 'tbps', r['tbps'])
"
date -u
