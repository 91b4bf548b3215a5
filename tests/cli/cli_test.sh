#!/usr/bin/env bash
# One CLI test case per invocation: cli_test.sh CASE PAGODA_BIN FIXTURES_DIR. Exit 77 = skipped.
set -uo pipefail
case_name=$1 pagoda=$2 fixtures=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
home=${PAGODA_HOME:-$HOME/.cache/pagoda}
default_model="$home/models/SmolLM2-135M-Instruct.Q4_1.gguf"

fail() { echo "FAIL: $*"; exit 1; }
need_default() { [ -f "$default_model" ] || { echo "default model not fetched: skipping"; exit 77; }; }
# expect_error CMD...: exit code 1, one "error:" line naming the problem, no crash.
expect_error() {
  "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  cat "$tmp/err"
  [ $rc -eq 1 ] || fail "expected exit 1, got $rc"
  grep -q '^error: ' "$tmp/err" || fail "no 'error:' line"
}

case $case_name in
  help)
    "$pagoda" --help >"$tmp/out" || fail "--help failed"
    for sub in run chat logits tokenize inspect bench; do
      grep -q "$sub" "$tmp/out" || fail "--help does not list $sub"
      "$pagoda" "$sub" --help >/dev/null || fail "$sub --help failed"
    done ;;
  bad_flag)
    "$pagoda" run --no-such-flag >/dev/null 2>"$tmp/err"; rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "bad flag gave exit $rc"
    "$pagoda" run -m x -p hi --temp banana >/dev/null 2>&1; rc=$?
    [ $rc -ne 0 ] && [ $rc -lt 128 ] || fail "bad value gave exit $rc" ;;
  missing_model)
    expect_error "$pagoda" run -m "$tmp/nope.gguf" -p hi
    grep -q "nope.gguf" "$tmp/err" || fail "message does not name the file" ;;
  corrupt_model)
    head -c 4096 /dev/urandom >"$tmp/junk.gguf"
    expect_error "$pagoda" inspect -m "$tmp/junk.gguf"
    grep -q "junk.gguf" "$tmp/err" || fail "message does not name the file"
    printf 'GGUF\x03\x00\x00\x00\xff\xff\xff\xff\xff\xff\xff\x7f\x00\x00\x00\x00\x00\x00\x00\x00' >"$tmp/lying.gguf"
    expect_error "$pagoda" run -m "$tmp/lying.gguf" -p hi ;;
  truncated_model)
    need_default
    head -c 5000000 "$default_model" >"$tmp/cut.gguf"
    expect_error "$pagoda" run -m "$tmp/cut.gguf" -p hi
    grep -q "cut.gguf" "$tmp/err" || fail "message does not name the file" ;;
  logits_tiny)
    "$pagoda" logits -m "$fixtures/tiny-llama-gqa" --tokens "1 2 3 4 5" -o "$tmp/l.safetensors" || fail "logits failed"
    size=$(stat -c %s "$tmp/l.safetensors")
    # header + 5 x 1024 float32
    [ "$size" -gt 20480 ] || fail "logits file too small ($size bytes)"
    expect_error "$pagoda" logits -m "$fixtures/tiny-llama-gqa" --tokens "1 x 3" -o "$tmp/bad.safetensors"
    expect_error "$pagoda" logits -m "$fixtures/tiny-llama-gqa" --tokens "1 99999" -o "$tmp/bad.safetensors" ;;
  tokenize_default)
    need_default
    out=$("$pagoda" tokenize -m "$default_model" --text "Hello world") || fail "tokenize failed"
    [ "$out" = "19556 905" ] || fail "unexpected ids: $out" ;;
  inspect_default)
    need_default
    "$pagoda" inspect -m "$default_model" >"$tmp/out" || fail "inspect failed"
    grep -q "llama.block_count = 30" "$tmp/out" || fail "metadata missing"
    grep -q "49152 x" "$tmp/out" || fail "long arrays should be summarised with their count"
    [ "$(wc -c <"$tmp/out")" -lt 200000 ] || fail "inspect dumped too much" ;;
  chat_smoke_default)
    # Simple factual questions the 135M model answers correctly under greedy decoding (it famously
    # answers "What is the capital of France?" in French; llama.cpp does the same on this file).
    need_default
    for qa in "How many days are in a week?|7|seven" "What is the boiling point of water in Celsius?|100|hundred"; do
      IFS='|' read -r q a1 a2 <<<"$qa"
      "$pagoda" run -m "$default_model" --chat -p "$q" --temp 0 -n 48 >"$tmp/out" 2>"$tmp/err" \
        || { cat "$tmp/err"; fail "run failed"; }
      echo "Q: $q A: $(cat "$tmp/out")"
      grep -qiE "$a1|$a2" "$tmp/out" || fail "wrong answer to: $q"
    done
    grep -q "tok/s" "$tmp/err" || fail "no speed report on stderr" ;;
  run_stop_default)
    need_default
    "$pagoda" run -m "$default_model" -p "1, 2, 3, 4," --temp 0 -n 40 --stop " 9" >"$tmp/out" 2>/dev/null || fail "run failed"
    cat "$tmp/out"
    grep -q " 9" "$tmp/out" && fail "stop string was emitted"
    grep -q "8" "$tmp/out" || fail "expected counting up to 8" ;;
  memory_default)
    need_default
    "$pagoda" run -m "$default_model" -p "Once upon a time" --temp 0 -n 64 -v >/dev/null 2>"$tmp/err" || fail "run failed"
    line=$(grep '^memory:' "$tmp/err") || fail "no memory report"
    echo "$line"
    file_mib=$(( $(stat -c %s "$default_model") / 1048576 ))
    read -r peak kv < <(echo "$line" | sed -E 's/.*peak RSS ([0-9.]+) MiB.*KV cache ([0-9.]+) MiB.*/\1 \2/')
    awk -v p="$peak" -v f="$file_mib" -v k="$kv" 'BEGIN { exit !(p <= 1.5 * f + k) }' \
      || fail "peak RSS $peak MiB exceeds 1.5 x $file_mib MiB + KV $kv MiB" ;;
  chat_multiturn_default)
    # Three turns through stdin: the second reuses the first turn's KV cache (only the new tokens
    # are evaluated) and /reset forgets it.
    need_default
    printf 'My name is Alice.\nWhat is my name?\n/reset\nhello\n/exit\n' |
      "$pagoda" chat -m "$default_model" --temp 0 -n 24 --speed >"$tmp/out" 2>"$tmp/err" || { cat "$tmp/err"; fail "chat failed"; }
    cat "$tmp/out" "$tmp/err"
    cached=$(grep -o '([0-9]* cached)' "$tmp/err" | tr -dc '0-9\n')
    [ "$(echo "$cached" | wc -l)" -eq 3 ] || fail "expected three replies"
    [ "$(echo "$cached" | sed -n 1p)" -eq 0 ] || fail "first turn cannot reuse anything"
    [ "$(echo "$cached" | sed -n 2p)" -gt 20 ] || fail "second turn did not reuse the first turn's cache"
    [ "$(echo "$cached" | sed -n 3p)" -eq 0 ] || fail "/reset did not clear the cache"
    grep -q "conversation cleared" "$tmp/err" || fail "/reset not acknowledged" ;;
  *) fail "unknown case $case_name" ;;
esac
echo "PASS: $case_name"
