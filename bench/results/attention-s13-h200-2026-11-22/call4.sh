#!/usr/bin/env bash
# Session 13 call 4 (H200): weak (plain st.global) 16-byte stores for the LL words instead of st.relaxed.gpu:
# s13e = s13c (no clearing) with weak stores, s13f = s13b (clearing) with weak stores; a, b, c as in call 3.
# bench_attention latency in the order a e f c b b c f e a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c4.tar.xz').extractall('.')"
SECONDS=0
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in a e f c b b c f e a; do
  i=$((i + 1)); A=build-s13$v/carry
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | grep -v ragged | awk '{print "'$v'", $0}'
done
