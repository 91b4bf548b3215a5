#!/usr/bin/env bash
# Session 10 call 9 (H200): the read ceilings after their two kernels became one (build-s10h: the committed
# bench; the plain ceiling is the same kernel with its wait a no-op): bench_attention ceiling-pdl, as call 3.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c9.tar.xz').extractall('.')"
A=build-s10h/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
timeout 300 $A/bench_attention ceiling-pdl > $OUT/bench_ceiling_pdl.txt 2>&1
echo "rc=$?"; grep -v nograph $OUT/bench_ceiling_pdl.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.strip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])"
