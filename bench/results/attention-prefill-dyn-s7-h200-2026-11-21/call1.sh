#!/usr/bin/env bash
# Call 1 (session 7): the dynamic work counter of the persistent sm90 prefill kernel.
# base = main c74cb1c's kernels (bench front end of 7d9d1bb with the workspace removed, so it has the
# prefill-mixed mode and prefill-chunk triples); knob = 7d9d1bb built with -DPAGODA_PREFILL_SCHED_KNOB,
# run as pp0 (ping-pong kernel at every length, head-major order), pp1 (every length, tile-major), one
# (the one-work kernel at every length). 3 interleaved rounds in rotating orders, then the prefill tests
# under memcheck with pp0 (every D = 128 shape on the dynamic kernel), the work-queue tests with pp1,
# racecheck on the dispatch test with pp0.
set -uo pipefail
D=build-x
python3 -c "import tarfile;tarfile.open('build-pfq-s7/pack1.tar.xz').extractall('$D')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
export LD_LIBRARY_PATH=$PWD/$D/knob:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > $OUT/gpu.txt 2>&1
BIG=1073741824
run() {  # variant, bench arguments...
  local v=$1; shift
  case $v in
    base) timeout 60 $D/base/bench_attention "$@" ;;
    pp0) PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG PAGODA_PREFILL_WORK_ORDER=0 timeout 60 $D/knob/bench_attention "$@" ;;
    pp1) PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG PAGODA_PREFILL_WORK_ORDER=1 timeout 60 $D/knob/bench_attention "$@" ;;
    one) PAGODA_PREFILL_PINGPONG_MAX_Q=0 timeout 60 $D/knob/bench_attention "$@" ;;
  esac 2>>$OUT/bench.err | sed "s/^/$v r$r /"
}
LONG="1 4096 16384 1 4096 32768 1 8192 32768 2 4096 8192 4 1024 16384"
MIX=("8192:8192,512:512*15" "2048:2048*4,256:4096*8" "1000:1000,3000:3000,5000:5000,7000:7000" "100:100*64" "4096:12288,128:128*32")
t0=$(date +%s)
r=0
for order in "base pp0 pp1 one" "one pp1 pp0 base" "pp0 base one pp1"; do
  r=$((r + 1))
  for v in $order; do
    run $v prefill-default >> $OUT/p16.txt
    run $v prefill-chunk >> $OUT/chunk.txt
    run $v prefill-page 64 1024 2048 4096 8192 16384 >> $OUT/p64.txt
    run $v prefill-chunk $LONG >> $OUT/chunk_long.txt
    run $v prefill-mixed "${MIX[@]}" >> $OUT/mixed.txt
  done
done
echo "bench: $(( $(date +%s) - t0 )) s"
python3 - <<'PY'
import json,os,collections
O=os.environ['OUT']
for f,key in [('p16.txt','seq'),('p64.txt','seq'),('chunk.txt',None),('chunk_long.txt',None),('mixed.txt','seqs')]:
    d=collections.defaultdict(list)
    for line in open(O+'/'+f):
        v,r,j=line.split(' ',2)
        try: j=json.loads(j)
        except Exception: continue
        k=j[key] if key else (j['batch'],j['q_len'],j['kv_len'])
        d[(k,v)].append(j['tflops'])
    print('==',f)
    for k in sorted({k for k,_ in d}, key=str):
        print(k, ' | '.join(f"{v} "+'/'.join('%.1f'%x for x in d[(k,v)])+' (%.1f)'%(sum(d[(k,v)])/len(d[(k,v)])) for v in ['base','pp0','pp1','one'] if (k,v) in d))
PY
t0=$(date +%s)
export PAGODA_PREFILL_PINGPONG_MAX_Q=$BIG
PAGODA_PREFILL_WORK_ORDER=0 timeout 170 compute-sanitizer --tool memcheck --leak-check no $D/knob/test_backend_cuda --gtest_filter='*Prefill*' > $OUT/memcheck_pp0.log 2>&1
echo "memcheck pp0 rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck_pp0.log | tail -1) ($(( $(date +%s) - t0 )) s)"; grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|OK \]" $OUT/memcheck_pp0.log | head -20
t0=$(date +%s)
PAGODA_PREFILL_WORK_ORDER=1 timeout 60 $D/knob/test_backend_cuda --gtest_filter='*WorkQueue*:*PrefillGraph*:*TwoStreams*:*ChunkedShapes*:*PrefillLong4097*:*PrefillSm90IsDispatched*' > $OUT/tests_pp1.log 2>&1
echo "tests pp1 rc=$? ($(( $(date +%s) - t0 )) s)"; grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]|OK \]" $OUT/tests_pp1.log
t0=$(date +%s)
PAGODA_PREFILL_WORK_ORDER=0 timeout 60 compute-sanitizer --tool racecheck $D/knob/test_backend_cuda --gtest_filter='*PrefillSm90IsDispatched*' > $OUT/racecheck_pp0.log 2>&1
echo "racecheck rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' $OUT/racecheck_pp0.log | tail -1) ($(( $(date +%s) - t0 )) s)"
