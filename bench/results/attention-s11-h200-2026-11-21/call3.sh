#!/usr/bin/env bash
# Session 11 call 3 (H200, build-s11a as call 2): where the keys-major kernel's split counts should lie. B1 256 ..
# 4k at forced splits (8 warps x 3 stages; 4 x 3 and 6 x 2 at the 16-row plan's count and 8), and 8k / 32k around
# 16 splits.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s11/c2.tar.xz').extractall('.')"
A=build-s11a/carry
export LD_LIBRARY_PATH=$PWD/$A
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['impl'], d['batch'], d['ctx'], d['splits'], d['us'], d['tbps'])
"; }
timeout 250 $A/bench_attention keys-at 1:256,1:512,1:1024,1:2048,1:4096 0.0.0.0 8.3.0.2 8.3.0.4 8.3.0.6 8.3.0.8 8.3.0.12 8.3.0.16 4.3.0.0 4.3.0.8 6.2.0.0 6.2.0.8 > $OUT/bench_keys_short.txt 2>&1
echo "bench short rc=$?"; fmt < $OUT/bench_keys_short.txt
timeout 150 $A/bench_attention keys-at 1:8192,1:32768 0.0.0.0 8.3.0.14 8.3.0.15 8.3.0.16 8.3.0.20 12.2.0.14 12.2.0.16 > $OUT/bench_keys_long.txt 2>&1
echo "bench long rc=$?"; fmt < $OUT/bench_keys_long.txt
