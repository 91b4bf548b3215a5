#!/usr/bin/env bash
# Session 12 call 3 (H200): after the review mends (build-s12c from main: the keys-major kernel's supported set
# read from its launcher's instantiations; the PDL tests share one case builder). test_backend_cuda, then
# bench_attention latency once (kernels unchanged).
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s12/c3.tar.xz').extractall('.')"
[[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }
SECONDS=0
A=build-s12c/carry
export LD_LIBRARY_PATH=$PWD/$A
timeout 300 $A/test_backend_cuda > $OUT/test_backend_cuda.txt 2>&1
echo "test_backend_cuda rc=$? ${SECONDS}s"; grep -E "^\[  (PASSED|FAILED)|FAILED" $OUT/test_backend_cuda.txt | tail -8
timeout 120 $A/bench_attention latency > $OUT/bench_latency.txt 2>&1
echo "latency rc=$? ${SECONDS}s"; grep -v nograph $OUT/bench_latency.txt | grep -v ceiling | python3 -c "
import sys, json
for l in sys.stdin:
    d = json.loads(l); print(d['op'], d['batch'], d['ctx'], d['splits'], d['us'], d['tbps'])"
