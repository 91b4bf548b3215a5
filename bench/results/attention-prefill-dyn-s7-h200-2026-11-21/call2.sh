#!/usr/bin/env bash
# Call 2 (session 7): call 1 found the dynamic kernel 7-13% below the static one at P = 16 (the cp.async
# producer) and level or faster at P = 64 (TMA). The cp.async producer's gather is the code that differs
# between the two: three builds of the same commit with the knob, differing only in that gather
# (PAGODA_PP_GATHER): g0 = call 1's (4 offset registers, 64-bit row multiply), g1 = lean (32 x 32 -> 64
# multiply, no selects), g2 = the static kernel's lane-form gather (16 offsets; 128 B of spills).
# Variants: base (c74cb1c kernels), g0 / g1 / g2 with the ping-pong kernel at every length, head-major
# (pp0), g1 tile-major (g1o1), one (the one-work kernel everywhere). 3 interleaved rounds, then g1's
# prefill tests under memcheck (ping-pong everywhere), its decode tests, and the queue tests tile-major.
set -uo pipefail
D=build-x
python3 -c "import tarfile;tarfile.open('build-pfq-s7/pack2.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/g1:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > $OUT/gpu_and_stderr.txt 2>&1
BIG=1073741824
run() {  # variant, bench arguments...
  local v=$1; shift
  case $v in
    base) timeout 60 $D/base/bench_attention "$@" ;;
    g0|g1|g2) PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG PAGODA_PREFILL_WORK_ORDER=0 timeout 60 $D/$v/bench_attention "$@" ;;
    g1o1) PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG PAGODA_PREFILL_WORK_ORDER=1 timeout 60 $D/g1/bench_attention "$@" ;;
    one) PAGODA_PREFILL_PINGPONG_MAX_Q=0 timeout 60 $D/g1/bench_attention "$@" ;;
  esac 2>>$OUT/gpu_and_stderr.txt | sed "s/^/$v r$r /"
}
LONG="1 4096 16384 1 4096 32768 1 8192 32768 2 4096 8192 4 1024 16384"
MIX=("8192:8192,512:512*15" "2048:2048*4,256:4096*8" "1000:1000,3000:3000,5000:5000,7000:7000" "100:100*64" "4096:12288,128:128*32")
t0=$(date +%s)
r=0
for order in "base g0 g1 g2 g1o1 one" "one g1o1 g2 g1 g0 base" "g1 base one g0 g1o1 g2"; do
  r=$((r + 1))
  for v in $order; do
    run $v prefill-default >> $OUT/p16.txt
    run $v prefill-chunk >> $OUT/chunk.txt
    if [[ $v != g0 && $v != g2 ]]; then
      run $v prefill-chunk $LONG >> $OUT/chunk_long.txt
      run $v prefill-mixed "${MIX[@]}" >> $OUT/mixed.txt
    fi
  done
done
echo "bench: $(( $(date +%s) - t0 )) s"
python3 - <<'PY'
import json,os,collections
O=os.environ['OUT']
V=['base','g0','g1','g2','g1o1','one']
for f,key in [('p16.txt','seq'),('chunk.txt',None),('chunk_long.txt',None),('mixed.txt','seqs')]:
    d=collections.defaultdict(list)
    for line in open(O+'/'+f):
        v,r,j=line.split(' ',2)
        try: j=json.loads(j)
        except Exception: continue
        k=j[key] if key else (j['batch'],j['q_len'],j['kv_len'])
        if key=='seqs': k=k[:40]
        d[(k,v)].append(j['tflops'])
    print('==',f)
    for k in sorted({k for k,_ in d}, key=str):
        print(k, ' | '.join(f"{v} "+'/'.join('%.1f'%x for x in d[(k,v)])+' (%.1f)'%(sum(d[(k,v)])/len(d[(k,v)])) for v in V if (k,v) in d))
PY
t0=$(date +%s)
export PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG
PAGODA_PREFILL_WORK_ORDER=0 timeout 115 compute-sanitizer --tool memcheck --leak-check no $D/g1/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/memcheck_g1.log 2>&1
echo "memcheck g1 rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck_g1.log | tail -1) ($(( $(date +%s) - t0 )) s)"; grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|OK \]" $OUT/memcheck_g1.log | head -20
t0=$(date +%s)
timeout 40 $D/g1/test_backend_cuda --gtest_filter='*Decode*:*KvAppend*:*Rejects*' > $OUT/tests.log 2>&1
echo "decode tests g1 rc=$? ($(( $(date +%s) - t0 )) s)"; grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" $OUT/tests.log
t0=$(date +%s)
PAGODA_PREFILL_WORK_ORDER=1 timeout 40 $D/g1/test_backend_cuda --gtest_filter='*WorkQueue*:*PrefillGraph*:*TwoStreams*:*ChunkedShapes*:*PrefillSm90PagesNanTails*' > $OUT/tests_o1.log 2>&1
echo "tests g1 tile-major rc=$? ($(( $(date +%s) - t0 )) s)"; grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|OK \]" $OUT/tests_o1.log; cat $OUT/tests_o1.log >> $OUT/tests.log; rm $OUT/tests_o1.log
t0=$(date +%s)
PAGODA_PREFILL_WORK_ORDER=0 timeout 20 compute-sanitizer --tool racecheck --print-limit 20 $D/g1/test_backend_cuda --gtest_filter='*PrefillSm90IsDispatched*' > $OUT/racecheck.log 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck.log | tail -1) ($(( $(date +%s) - t0 )) s)"; grep -iE "warning|error|hazard" $OUT/racecheck.log | sort | uniq -c | head -12
