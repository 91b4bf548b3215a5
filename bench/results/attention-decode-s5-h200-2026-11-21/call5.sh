#!/usr/bin/env bash
# Call 5 (final of the session, merged main with the prefill TMA branch): attention GPU tests, memcheck, racecheck
# and the full attention table with PyTorch SDPA flash / cuDNN (gpu_session.sh tests bench), the default dispatch at
# page size 64 (TMA) at 1k-16k, then the model's quick session (test_model_cuda, memcheck, 8B and 1B bench).
# Carry: build-carryxz/c.tar.xz = {attn,model}/carry.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
PAGODA_ATTN_BUILD=$D/attn OUT=$OUT/attn timeout 330 bash bench/attention/gpu_session.sh tests bench 2>&1 | grep -vE '^\{' | tail -40
LD_LIBRARY_PATH=$PWD/$D/attn/carry timeout 60 $D/attn/carry/bench_attention prefill-page 64 1024 2048 4096 8192 16384 > $OUT/attn/prefill_p64.jsonl 2>&1
cat $OUT/attn/prefill_p64.jsonl
PAGODA_CARRY=$D/model/carry OUT=$OUT/model timeout 240 bash bench/model/gpu_session.sh quick 2>&1 | grep -E "PASSED|FAILED|memcheck|rc=|^\| (128|4096|32768|8|32|128|1024|16384) " | head -40
cd $OUT && tar czf attn.tgz attn && tar czf model.tgz model && rm -rf attn model
