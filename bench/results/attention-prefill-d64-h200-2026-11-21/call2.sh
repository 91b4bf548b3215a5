#!/usr/bin/env bash
# Device call 2: attention GPU tests + memcheck of the dispatch test (prefill-s4 build), then the
# prefill benches before (HEAD d2c3648 kernels) / after (prefill-s4), interleaved, two rounds.
set -uo pipefail
C=build-pre-s4-carry
X=/tmp/pre-s4; mkdir -p $X
python3 -c "import tarfile; tarfile.open('$C/bins.tar.xz').extractall('$X')"
export LD_LIBRARY_PATH=$X:${LD_LIBRARY_PATH:-}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem --format=csv | tee "$OUT/device.txt"
T0=$SECONDS
timeout 130 $X/test_backend_cuda > "$OUT/tests.log" 2>&1; echo "tests rc=$? t=$((SECONDS-T0))"
grep -E "^\[  (PASSED|FAILED)|FAILED|tests from .* ran" "$OUT/tests.log" | head -20
timeout 60 compute-sanitizer --tool memcheck --leak-check no $X/test_backend_cuda --gtest_filter='*PrefillSm90IsDispatched*' > "$OUT/memcheck.log" 2>&1
echo "memcheck rc=$? $(grep -E 'ERROR SUMMARY' "$OUT/memcheck.log" | tail -1) t=$((SECONDS-T0))"
for r in 1 2; do
  for v in base new; do
    timeout 40 $X/bench_$v prefill > "$OUT/prefill_${v}_$r.jsonl" 2>&1
    timeout 40 $X/bench_$v prefill-d64 > "$OUT/d64_${v}_$r.jsonl" 2>&1
  done
done
echo "bench done t=$((SECONDS-T0))"
python3 - "$OUT" <<'PY'
import json, sys, glob, collections
out = sys.argv[1]
t = collections.defaultdict(dict)
for f in sorted(glob.glob(out + "/*_[12].jsonl")):
    name = f.split("/")[-1][:-6]
    kind, ver, r = name.rsplit("_", 2)
    for l in open(f):
        if not l.startswith("{"): continue
        p = json.loads(l)
        key = (p["op"], p.get("h", 32), p["impl"], p["seq"])
        t[key][f"{ver}{r}"] = p["tflops"]
for k in sorted(t):
    v = t[k]
    print(k, " ".join(f"{c}={v.get(c, '-')}" for c in ["base1", "new1", "base2", "new2"]))
PY
