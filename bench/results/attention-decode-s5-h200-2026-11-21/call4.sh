#!/usr/bin/env bash
# Call 4 (final of the session, merged main: decode v21 + the prefill ping-pong kernel): attention GPU tests,
# memcheck, racecheck and the full attention table with PyTorch SDPA flash / cuDNN and ceilings
# (gpu_session.sh tests bench), then the model's quick session (test_model_cuda, memcheck, 8B and 1B bench).
# Carry: build-carryxz/c.tar.xz = {attn,model}/carry.
set -uo pipefail
D=build-final
python3 -c "import tarfile;tarfile.open('build-carryxz/c.tar.xz').extractall('$D')"
PAGODA_ATTN_BUILD=$D/attn OUT=$OUT/attn timeout 330 bash bench/attention/gpu_session.sh tests bench 2>&1 | grep -vE '^\{' | tail -40
PAGODA_CARRY=$D/model/carry OUT=$OUT/model timeout 240 bash bench/model/gpu_session.sh quick 2>&1 | tail -60
cd $OUT && tar czf attn.tgz attn && tar czf model.tgz model && rm -rf attn model
