#!/usr/bin/env bash
# Session 14 call 5 (H200): the keys-major decode with fewer tiles issued before the dependency wait, to thin the
# next launch's pre-wait flood that the merge's and late CTAs' L2 trips queue behind (call 4): build-s14e (main's
# kernels, SASS identical: 2 tiles per warp), s14f (1 tile), s14g (none). bench_attention latency, e f g / g f e.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s14/c5.tar.xz').extractall('.')"
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
SECONDS=0
i=0
for v in e f g g f e; do i=$((i + 1)); A=build-s14$v/carry
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | awk '{print "'$v'", $0}' > $OUT/lat_$i$v.txt
done
cat $OUT/lat_*.txt | sort -s -k4,4n -k5,5n -k1,1
