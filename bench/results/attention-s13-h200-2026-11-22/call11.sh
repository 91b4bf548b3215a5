#!/usr/bin/env bash
# Session 13 call 11 (H200): batched shapes with 9-16 packed rows per KV head, where the planner now takes the
# keys-major kernel's two-n-tile form without a measurement yet: bench_attention rows16 (the plan against the
# 16-row kernel forced, alternating, two rounds), build-s13h (main e5225b1 plus the rows16 bench mode).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c11.tar.xz').extractall('.')"
A=build-s13h/carry
LD_LIBRARY_PATH=$PWD/$A timeout 200 $A/bench_attention rows16 > $OUT/bench_rows16.txt 2>&1
echo "rows16 rc=$?"; grep -v nograph $OUT/bench_rows16.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d.get('kernel', ''), d['us'], d['tbps'])
" | grep -v ceiling | sort -k3,3n -k4,4n -k5,5n -k6,6n -k2,2
