#!/usr/bin/env bash
# Session 13 call 5 (H200): main at 94542be (the acq_rel ticket). The GPU model's tests and its Llama-3-8B bench
# (bench/model/gpu_session.sh quick minus memcheck and the 1B bench: build-gpumodel/carry), then the keys-major split
# counts around the plan at B1 2k-32k with the faster merge (build-s13a = this tree's attention kernels), two rounds.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s13/c5.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
C=build-gpumodel/carry
LD_LIBRARY_PATH=$PWD/$C timeout 300 $C/test_model_cuda > $OUT/test_model_cuda.txt 2>&1
echo "test_model_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_model_cuda.txt | tail -6
LD_LIBRARY_PATH=$PWD/$C timeout 240 $C/bench_model_cuda bench/configs/llama-3-8b.json > $OUT/bench-llama-3-8b.md 2>&1
echo "bench llama-3-8b rc=$? ${SECONDS}s"; grep -vE "^\| (qkv|o|gate\|up|down) " $OUT/bench-llama-3-8b.md | head -40
A=build-s13a/carry
LD_LIBRARY_PATH=$PWD/$A timeout 120 $A/bench_attention keys-at 1:2048,1:4096,1:8192,1:32768 0.0.0.0 8.3.1.12 8.3.1.14 8.3.1.15 8.3.1.16 \
  > $OUT/bench_keys_at.txt 2>&1
echo "keys-at rc=$? ${SECONDS}s"; grep -v nograph $OUT/bench_keys_at.txt | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: print(l.rstrip()); continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('splits', ''), d['us'], d['tbps'])
" | grep -v ceiling
