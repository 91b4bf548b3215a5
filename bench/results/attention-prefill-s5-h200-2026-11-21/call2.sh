#!/usr/bin/env bash
# prefill-s5 call 2, as sent (run from the device copy's root with carry build-pf-s5). Its binaries came from
# an earlier state of dev/kernels/prefill_sm90_s5_variants.patch (the call-3 source): 64-bit work indices,
# the next work's metadata loaded and used at once, schedules serial / pp / ppo (OVERLAP's order in the
# turns), 2 or 3 stages, no FAST softmax; PAGODA_SM90_EXP=serial|pp|serial-pers|pp-pers|ppo-pers|pp-pers-s3.
cd build-pf-s5 && python3 -c "import tarfile;tarfile.open('c.tar.xz').extractall('build-final/pf/carry')" || exit 1
export PAGODA_ATTN_BUILD=build-final/pf; C=$PAGODA_ATTN_BUILD/carry; export LD_LIBRARY_PATH=$PWD/$C; O=$OUT/o; mkdir -p $O
F='*PrefillSweep*:*PrefillSm90*:*PrefillLong*:*ContiguousEqualsPaged*'
for v in pp pp-pers pp-pers-s3 ppo-pers; do (PAGODA_SM90_EXP=$v timeout 150 $C/test_backend_cuda --gtest_filter="$F" > $O/tests_$v.log 2>&1; echo "tests $v rc=$?") & done; wait
for v in pp pp-pers pp-pers-s3 ppo-pers; do grep -E "^\[  (PASSED|FAILED) |Failure|ms\)" $O/tests_$v.log | head -8; done
PAGODA_SM90_EXP=pp-pers timeout 90 compute-sanitizer --tool memcheck --leak-check no $C/test_backend_cuda --gtest_filter='*PrefillSm90IsDispatched*:*ContiguousEqualsPaged*:*PrefillLong4097*' > $O/memcheck_pp-pers.log 2>&1; echo "memcheck rc=$? $(grep 'ERROR SUMMARY' $O/memcheck_pp-pers.log | tail -1)"
AB_ROUNDS=2 AB_VARIANTS="PAGODA_SM90_EXP=serial PAGODA_SM90_EXP=pp PAGODA_SM90_EXP=serial-pers PAGODA_SM90_EXP=pp-pers PAGODA_SM90_EXP=ppo-pers PAGODA_SM90_EXP=pp-pers-s3" OUT=$O bash bench/attention/gpu_session.sh prefill-ab | cut -c1-150
for v in serial pp-pers; do PAGODA_SM90_EXP=$v NCU_TAG=$v- NCU_LENGTHS="16384 1024" OUT=$O bash bench/attention/gpu_session.sh ncu-lite; done
cd $OUT && tar czf o.tgz o && rm -rf o
