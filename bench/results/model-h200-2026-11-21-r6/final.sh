#!/usr/bin/env bash
# Final call: attention tests + bench with peers, model tests + memcheck + 8B (profiled) / 1B benches.
set -u
python3 -c "import tarfile;tarfile.open('build-carryxz/bins.tar.xz').extractall('build-final')"
R=/tmp/o; mkdir -p $R
PAGODA_ATTN_BUILD=build-final/attn OUT=$R/attn bash bench/attention/gpu_session.sh tests bench 2>&1 | tail -45
tar -C $R -czf $OUT/final-attn.tgz .
PAGODA_CARRY=build-final/model OUT=$R/model bash bench/model/gpu_session.sh ${1:-quick} 2>&1 | grep -E 'PASSED|FAILED|memcheck|^\| (128|4096|32768|8|32|128|1024|16384) \|' | head -40
tar -C $R -czf $OUT/final.tgz .
