#!/usr/bin/env bash
# Session 13 call 8 (H200): with the shorter merge, do short B1 contexts want other split counts? keys-at at
# 512 / 1k / 2k keys: the plan, the 4-warp kernel (trigger after the wait, as planned) at 4-32 splits and the
# 8-warp one at 8-16, build-s13g (the final tree), two rounds.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c6.tar.xz').extractall('.')"
A=build-s13g/carry
LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention keys-at 1:512,1:1024,1:2048 0.0.0.0 4.3.0.4 4.3.0.8 4.3.0.12 \
  4.3.0.16 4.3.0.24 4.3.0.32 8.3.0.8 8.3.0.12 8.3.0.16 > $OUT/bench_keys_at.txt 2>&1
echo "keys-at rc=$?"; grep -v nograph $OUT/bench_keys_at.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
" | grep -v ceiling | sort -k4,4n -k2,2 -k5,5n
