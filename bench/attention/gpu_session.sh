#!/usr/bin/env bash
# One device call: GPU tests (all), compute-sanitizer on a small subset, then the benchmark
# (Pagoda kernels + PyTorch peers + ceilings), logs under $OUT. Runs prebuilt binaries carried in
# build-cuda/carry (made by bench/attention/build_carry.sh on the CPU machine).
# Usage (device tool, carry $PAGODA_ATTN_BUILD/carry): bash bench/attention/gpu_session.sh [tests|bench|prefill-d64|prefill-ab|decode|all|ncu|ncu-lite|ncu-decode]...
# (several modes in one call run in order; decode: decode cases + forced split sweep, no peers;
# ncu profiles one 16k paged prefill launch, ncu-decode one B1 8k decode launch at 32 splits)
set -uo pipefail
cd "$(dirname "$0")/../.."
MODES="${*:-all}"
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
C=${PAGODA_ATTN_BUILD:-build-attn3}/carry
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv > "$OUT/device.txt" 2>&1
cat "$OUT/device.txt"
for MODE in $MODES; do
if [[ $MODE == tests || $MODE == all ]]; then
  timeout 300 $C/test_backend_cuda 2>&1 | tee "$OUT/tests.log" | grep -E "^\[  (PASSED|FAILED|  OK|SKIPPED) |Failure|error" | head -60
  timeout 240 compute-sanitizer --tool memcheck --leak-check no \
    $C/test_backend_cuda --gtest_filter='*KvAppendRope:*GraphCapture*:*InitializedWorkspace*:*ContiguousEqualsPaged*:*PrefillSm90IsDispatched*:*DecodeManySplits*' \
    > "$OUT/sanitizer.log" 2>&1
  echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/sanitizer.log" | tail -1)"
  timeout 120 compute-sanitizer --tool racecheck \
    $C/test_backend_cuda --gtest_filter='*ContiguousEqualsPaged*:*BatchedPagedEqualsSingle*' > "$OUT/racecheck.log" 2>&1
  echo "racecheck rc=$? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/racecheck.log" | tail -1)"
  # The pair kernel (named barriers) without PDL, and both PDL tests. racecheck reports false hazards
  # across __syncthreads when a CTA's warps pass different numbers of named barriers (notes 35); the pair
  # kernel pads its short rings' barrier count since session 8, after which all three are clean (the sweep
  # takes ~180 s under racecheck). DecodeManySplits: the two-level merge.
  for t in DecodePairKernelSweep DecodePairKernelProgrammaticLaunch DecodeProgrammaticLaunchSeesPreviousKernel DecodeManySplits; do
    timeout 240 compute-sanitizer --tool racecheck $C/test_backend_cuda --gtest_filter="*$t" > "$OUT/racecheck_$t.log" 2>&1
    echo "racecheck $t rc=$? $(grep -E 'RACECHECK SUMMARY|ERROR SUMMARY' "$OUT/racecheck_$t.log" | tail -1)"
  done
fi
if [[ $MODE == bench || $MODE == all ]]; then
  timeout 200 $C/bench_attention > "$OUT/pagoda_bench.jsonl" 2> "$OUT/pagoda_bench.err"
  echo "bench rc=$?"; cat "$OUT/pagoda_bench.jsonl"; tail -3 "$OUT/pagoda_bench.err"
  timeout 200 python3 bench/attention/bench_peers.py "$OUT/pagoda_bench.jsonl" "$OUT/results.md" 2>&1 | tail -30
fi
if [[ $MODE == prefill-d64 ]]; then
  timeout 120 $C/bench_attention prefill-d64 > "$OUT/prefill_d64.jsonl" 2> "$OUT/prefill_d64.err"
  echo "prefill-d64 rc=$?"; tail -3 "$OUT/prefill_d64.err"
  timeout 200 python3 bench/attention/bench_peers.py "$OUT/prefill_d64.jsonl" "$OUT/results_d64.md" prefill-d64 2>&1 | tail -30
fi
if [[ $MODE == decode ]]; then
  timeout 120 $C/bench_attention decode > "$OUT/decode_bench.jsonl" 2> "$OUT/decode_bench.err"
  echo "decode bench rc=$?"; grep -v nograph "$OUT/decode_bench.jsonl"; tail -3 "$OUT/decode_bench.err"
fi
if [[ $MODE == ncu-decode ]]; then
  timeout 240 ncu --clock-control none -k regex:flash_decode -c 1 --section SpeedOfLight \
    --section MemoryWorkloadAnalysis --section WarpStateStats --section Occupancy --section LaunchStats \
    --section SchedulerStats --metrics sm__cycles_active.avg,sm__cycles_elapsed.max,dram__bytes_read.sum \
    $C/bench_attention decode > "$OUT/ncu_decode.txt" 2>&1
  echo "ncu-decode rc=$?"
  grep -E "Duration|Throughput|Busy|Eligible|Occupancy|Registers|Warp Cycles|Stall|cycles_active|cycles_elapsed|dram__bytes|Hit Rate|Active Warps" "$OUT/ncu_decode.txt" | head -50
fi
if [[ $MODE == prefill-ab ]]; then
  # Interleaved before/after of the default paged prefill (1k .. 16k), AB_ROUNDS rounds (default 2):
  # $C/bench_attention_base (a build of the base commit, if carried) against $C/bench_attention under
  # each setting of AB_VARIANTS (space-separated VAR=value environment settings; "-" for none).
  for r in $(seq 1 "${AB_ROUNDS:-2}"); do
    if [[ -x $C/bench_attention_base ]]; then
      timeout 60 $C/bench_attention_base prefill 2>/dev/null | grep '"pagoda-paged16"' | sed "s/^/base r$r /" | tee -a "$OUT/prefill_ab.txt"
    fi
    for v in ${AB_VARIANTS:--}; do
      ( [[ $v != - ]] && export "$v"; timeout 60 $C/bench_attention prefill-default 2>/dev/null ) | sed "s/^/$v r$r /" | tee -a "$OUT/prefill_ab.txt"
    done
  done
fi
if [[ $MODE == ncu-lite ]]; then
  # One paged prefill launch per length in NCU_LENGTHS (default 16384 1024): throughput, pipes,
  # warp stalls, scheduler and memory sections (no source counters: fast).
  for L in ${NCU_LENGTHS:-16384 1024}; do
    timeout 120 ncu --clock-control none -k regex:flash_prefill -c 1 --section SpeedOfLight \
      --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats \
      --section SchedulerStats --section Occupancy --section LaunchStats \
      $C/bench_attention ncu "$L" > "$OUT/ncu_${NCU_TAG:-}$L.txt" 2>&1
    echo "ncu-lite $L rc=$?"
    grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|L2 Hit|Issue Slots Busy|Issued Ipc|No Eligible|Eligible Warps|Warp Cycles Per Issued|Registers Per|Grid Size|Pipe|Stall" "$OUT/ncu_${NCU_TAG:-}$L.txt" | head -30
  done
fi
if [[ $MODE == ncu ]]; then
  timeout 240 ncu --clock-control none -k regex:flash_prefill -c 1 --section SpeedOfLight \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section WarpStateStats \
    --section SourceCounters --section Occupancy --section LaunchStats --section InstructionStats \
    $C/bench_attention ncu > "$OUT/ncu.txt" 2>&1
  echo "ncu rc=$?"
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Issued Ipc|Executed Ipc|No Eligible|Achieved Occupancy|Theoretical Occupancy|Registers Per|Warp Cycles Per Issued|Bank Conflicts|Shared Memory|L1/TEX Hit|Pipe|Stall|Branch" "$OUT/ncu.txt" | head -60
fi
done
