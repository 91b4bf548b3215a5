#!/usr/bin/env bash
# Call 4 (final): after2 = after + split merge staged through shared memory (one L2 trip). Full GPU tests and memcheck
# on after2; latency before / after / after2 interleaved x2; probe of after2 at 8k / 32k.
set -uo pipefail
D=build-dec-s4-carry
tar xJf $D/pk.tar.xz -C $D
export LD_LIBRARY_PATH=$PWD/$D/before:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee $OUT/device.txt
for b in before after after2 before after after2; do
  echo "== $b" >> $OUT/bench.jsonl
  timeout 40 $D/$b/bench_attention latency 2>&1 | grep -v nograph >> $OUT/bench.jsonl
done
for a in "8192 32" "32768 32"; do echo "== after2 probe $a"; timeout 20 $D/after2/decode_probe $a; done > $OUT/probe.txt 2>&1
timeout 130 $D/after2/test_backend_cuda > $OUT/tests.log 2>&1; echo "tests rc=$?"
grep -E "^\[  (PASSED|FAILED) |FAILED  \]" $OUT/tests.log | head
timeout 60 /usr/local/cuda/bin/compute-sanitizer --tool memcheck --leak-check no $D/after2/test_backend_cuda \
  --gtest_filter='*DecodeFullTilePath*:*DecodeLatencyPlans*:*DecodeBatchedPaged*:*DecodeProgrammatic*:*DecodeInitialized*:*DecodeSweep*' > $OUT/memcheck.log 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' $OUT/memcheck.log | tail -1)"; grep -E "^\[  (PASSED|FAILED) " $OUT/memcheck.log
