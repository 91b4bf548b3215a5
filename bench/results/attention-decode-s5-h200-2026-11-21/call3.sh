#!/usr/bin/env bash
# Call 3: "half" (at most half of a warp's tiles before the dependency wait, at least one) vs "after" (v19: up to
# STAGES - 1 = 2): attention latency interleaved x2 and the chain probe (now with the merge CTA's fence point);
# the 8B model (random weights, batch-1 decode at 128 / 1k / 4k / 32k) for before (main 08bd9da), after and half,
# interleaved x2, and test_model_cuda on half.
# Carry: build-carryxz/c.tar.xz = {attn-after,attn-half}/{bench_attention,decode_probe,...},
# {model-before,model-after,model-half}/{test_model_cuda,bench_model_cuda,libs}.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv,noheader | tee $OUT/device.txt
export LD_LIBRARY_PATH=$PWD/$D/attn-after:${LD_LIBRARY_PATH:-}
for b in after half after half; do
  echo "== $b" >> $OUT/attn.jsonl
  timeout 60 $D/attn-$b/bench_attention latency 2>&1 | grep -v nograph | grep -v ceiling >> $OUT/attn.jsonl
done
for b in after half; do for a in "8192 32 12" "32768 32 12" "4096 32 12"; do echo "== $b probe $a"; timeout 20 $D/attn-$b/decode_probe $a; done; done > $OUT/probe.txt 2>&1
python3 - <<'PY'
import json,os
rows={}
cur=None
for line in open(os.environ['OUT']+'/attn.jsonl'):
    if line.startswith('=='): cur=line.split()[1]; continue
    try: j=json.loads(line)
    except: continue
    key=(j['op'],j['impl'],j['batch'],j['ctx'],j.get('ctx_lo',0),j.get('plan_kv',0))
    rows.setdefault(key,{}).setdefault(cur,[]).append(j['us'])
for k,v in rows.items():
    print(k, ' | '.join(f"{b} " + '/'.join('%.2f' % x for x in v[b]) for b in v))
PY
grep -E "chain|== " $OUT/probe.txt
export LD_LIBRARY_PATH=$PWD/$D/model-half:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}
timeout 200 $D/model-half/test_model_cuda > $OUT/model-tests.log 2>&1; echo "model tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/model-tests.log | head
for b in before after half half after before; do
  echo "== $b" >> $OUT/model.md
  LD_LIBRARY_PATH=$PWD/$D/model-$b:/usr/local/cuda/lib64 timeout 120 $D/model-$b/bench_model_cuda bench/configs/llama-3-8b.json \
    --decode-only --no-gemm-sweep --contexts 128,1024,4096,32768 >> $OUT/model.md 2>&1
  echo "$b rc=$?"
done
grep -E "^== |tok/s|^\| (1|128|1024|4096|32768) " $OUT/model.md | head -60
