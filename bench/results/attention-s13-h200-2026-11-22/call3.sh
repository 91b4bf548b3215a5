#!/usr/bin/env bash
# Session 13 call 3 (H200): why the LL merge (build-s13b) was 1.4-4 us slower than the acq_rel ticket (build-s13a)
# in call 2. Measurement builds of the LL kernel: s13c without the clearing of the words (timing only: a replay's
# merge then reads the previous launch's words), s13d with the ticket taken after the LL stores instead of before
# the combine. bench_attention latency in the order a b c d d c b a.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c3.tar.xz').extractall('.')"
SECONDS=0
fmt() { grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"; }
i=0
for v in a b c d d c b a; do
  i=$((i + 1)); A=build-s13$v/carry
  LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention latency > $OUT/bench_latency_$i$v.txt 2>&1
  echo "latency $i$v rc=$? ${SECONDS}s"; fmt < $OUT/bench_latency_$i$v.txt | grep -v ceiling | grep -v ragged | awk '{print "'$v'", $0}'
done
