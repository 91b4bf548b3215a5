#!/usr/bin/env bash
# Session 9 call 4 (H200): the full benchmark with PyTorch peers on the committed kernels (build-s9d; its
# kernels are byte-identical to the commit's), and head dim 64 before (build-s9a = main 79d69e1) / after.
set -uo pipefail
export OUT=${OUT:-/tmp/out}
python3 -c "import tarfile; tarfile.open('build-carryxz-s9/c4.tar.xz').extractall('.')"
date -u
PAGODA_ATTN_BUILD=build-s9d bash bench/attention/gpu_session.sh bench prefill-d64
export LD_LIBRARY_PATH=$PWD/build-s9d/carry:${LD_LIBRARY_PATH:-}
for r in 1 2; do for v in a d; do
  timeout 60 build-s9$v/carry/bench_attention prefill-d64 2>/dev/null | grep pagoda | sed "s/^/s9$v r$r /" | tee -a $OUT/d64_ab.txt | cut -c1-200
done; done
date -u
