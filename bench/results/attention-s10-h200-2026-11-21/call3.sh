#!/usr/bin/env bash
# Session 10 call 3 (H200): the read ceiling chained by PDL (bench_attention ceiling-pdl, build-s10b = main's
# kernels + read_two_launch_pdl): the decode shapes, each with the planned decode, the copy, the plain
# read ceiling and PDL-chained reads (4 or 8 CTAs per SM; 0, 1 or all batches of loads before the wait), twice.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s10/c3.tar.xz').extractall('.')"
A=build-s10b/carry
export LD_LIBRARY_PATH=$PWD/$A:${LD_LIBRARY_PATH:-}
timeout 300 $A/bench_attention ceiling-pdl > $OUT/bench_ceiling_pdl.txt 2>&1
echo "rc=$?"; grep -v nograph $OUT/bench_ceiling_pdl.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.strip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])"
