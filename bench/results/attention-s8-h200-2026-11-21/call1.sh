#!/usr/bin/env bash
# Session 8 call 1 (H200): racecheck controls for the pair kernel's sync pattern (notes 35), the decode
# timeline probe on MQA B1 (where its time goes), bench_attention mqa as the baseline.
# Binaries: PAGODA_ATTN_BUILD=build-s8 bash bench/attention/build_carry.sh at 1a5999d; controls and probe:
# nvcc -std=c++17 -O3 -arch=sm_90a -lineinfo [-Isrc] <file> -o build-rc-s8/<name>.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
C=build-s8/carry R=build-rc-s8
export LD_LIBRARY_PATH=$PWD/$C:${LD_LIBRARY_PATH:-}
date -u; nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
CS=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
$CS --version | tail -2
{
for m in 0 1 2 3; do echo "== nbr2 mode $m"; timeout 60 $CS --tool racecheck --racecheck-report all $R/nbr2 $m 2>&1 | tail -12; done
echo "== nbr (session 7 control)"; timeout 60 $CS --tool racecheck $R/nbr 2>&1 | tail -4
} > $OUT/racecheck_controls.txt 2>&1
grep -E "^==|ok|MISMATCH|SUMMARY|hazard" $OUT/racecheck_controls.txt | head -40
{
for a in "65536 64 20 1" "65536 54 20 1" "262144 128 12 1" "8192 32 20 8"; do echo "== probe $a"; timeout 60 $R/decode_probe $a; done
} > $OUT/probe.txt 2>&1
cat $OUT/probe.txt
timeout 90 $C/bench_attention mqa > "$OUT/mqa.jsonl" 2>&1; echo "mqa rc=$?"
grep -v nograph "$OUT/mqa.jsonl" | cut -c1-400 | head -20
date -u
