#!/usr/bin/env bash
# Session 12 call 1 (H200): where B1 decode time goes in the PDL chain. Branch s12-cut (build-s12a): the keys-major
# kernel with a measurement knob (cut 1: no split merge; 2: no combine / partial store either; 3: the stream only),
# 8 x 3 at 15 splits (the plan at 8k-32k) and the 96 KB instantiations (two CTAs per SM, so the next launch's CTAs
# fit beside this one's) with the early trigger; then the copy / read / PDL-chained read ceilings.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s12/c1.tar.xz').extractall('.')"
SECONDS=0
A=build-s12a/carry
export LD_LIBRARY_PATH=$PWD/$A
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv,noheader
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
"; }
timeout 240 $A/bench_attention keys-at 1:4096,1:8192,1:32768 0.0.0.0.0 8.3.0.15.1 8.3.0.15.2 8.3.0.15.3 8.3.1.15.0 \
  4.3.1.16.0 4.3.1.16.1 4.3.1.16.3 4.3.1.15.0 6.2.1.16.0 6.2.1.16.3 6.2.1.15.0 > $OUT/bench_cut.txt 2>&1
echo "keys-at rc=$? ${SECONDS}s"; fmt < $OUT/bench_cut.txt
timeout 200 $A/bench_attention ceiling-pdl > $OUT/bench_ceiling.txt 2>&1
echo "ceiling rc=$? ${SECONDS}s"; fmt < $OUT/bench_ceiling.txt
