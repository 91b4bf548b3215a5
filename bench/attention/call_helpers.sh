# Helpers for device call scripts (bench/results/<session>/callN.sh): source this file instead of repeating them.
# A call script stays the exact record of what ran; what it sources here is part of that record, so change a
# helper only by adding a new one.

# Unpacks a carry archive (tar.xz made on the CPU machine) into the working tree.
carry_extract() { python3 -c "import sys, tarfile; tarfile.open(sys.argv[1]).extractall('.')" "$1"; }

# The tests read their fixtures at the path they were built with (/work/main/tests/fixtures).
fixtures_link() { [[ -d /work/main/tests/fixtures ]] || { mkdir -p /work/main && ln -sfn "$PWD/tests" /work/main/tests; }; }

# compute-sanitizer on the device image.
sanitizer_path() { command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1; }

# bench_attention decode lines (JSON) to columns: op impl batch ctx hkv q_len splits us tbps.
fmt_decode() {
  grep -v nograph | python3 -c "
import sys, json
for l in sys.stdin:
    try: d = json.loads(l)
    except Exception: continue
    print(d['op'], d['impl'], d['batch'], d['ctx'], d.get('hkv', ''), d.get('q_len', ''), d.get('splits', ''), d['us'], d['tbps'])
"
}

# Tagged bench_attention prefill lines ("<tag> <round> {json}") to columns: tag round op impl d seq batch q_len kv_len
# us tflops.
fmt_prefill() {
  python3 -c "
import sys, json
for l in sys.stdin:
    tag, _, js = l.partition(' {')
    try: d = json.loads('{' + js)
    except Exception: continue
    print(tag, d['op'], d['impl'], d.get('d', ''), str(d.get('seqs', d.get('seq', '')))[:40], d.get('batch', ''), d.get('q_len', ''), d.get('kv_len', ''), d['us'], d['tflops'])
"
}
