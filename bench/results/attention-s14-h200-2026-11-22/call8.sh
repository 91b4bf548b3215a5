#!/usr/bin/env bash
# Session 14 call 8 (H200): the final tree (build-s14z: main plus the compiled-out probe points, keys-major sm_90a
# SASS identical to main's; bench_attention's rows cases through rows_case): the whole test_backend_cuda,
# bench_attention latency and rows, and the refactored decode_keys_probe (dev/kernels/decode_probe_common.cuh).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s14/c8.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
X=build-s14z/carry
export LD_LIBRARY_PATH=$PWD/$X
timeout 300 $X/test_backend_cuda > $OUT/tests.txt 2>&1
echo "tests rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/tests.txt | tail -8
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
for m in latency rows; do
  timeout 120 $X/bench_attention $m > $OUT/bench_$m.txt 2>&1; echo "$m rc=$? ${SECONDS}s"; fmt < $OUT/bench_$m.txt | grep -v ceiling
done
timeout 60 build-s14p/carry/decode_keys_probe 8192 16 24 0 > $OUT/probe.txt 2>&1; echo "probe rc=$?"; head -8 $OUT/probe.txt
