#!/usr/bin/env bash
# CPU speed comparison: llama.cpp's llama-bench and `pagoda bench` on the same model, the same
# threads and the same test shapes (pp512 prompt processing, tg128 generation, 5 repetitions),
# written to one results file with the machine, date, commits and exact commands.
# It measures; it judges nothing. Either half can be skipped; a missing pagoda binary is noted.
#
# Usage: bench/cpu_vs_llamacpp.sh [-m MODEL] [-t THREADS] [-p 512] [-n 128] [-r 5]
#          [--runs K] [--max-load L] [--max-wait S] [--out FILE] [--skip-pagoda] [--skip-llamacpp]
#   --runs K      run each tool K times in a row (K tables) to show the spread on a shared machine
#   --max-load L  before each run wait (up to --max-wait seconds, default 900) until the 1-minute
#                 load average is below L; a run that starts above it is still made and says so
# Env: PAGODA_BIN (default build/bin/pagoda), PAGODA_HOME (llama.cpp is built there by
#      scripts/build_llamacpp.sh, run automatically; idempotent).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"

home="${PAGODA_HOME:-$HOME/.cache/pagoda}"
model="$home/models/SmolLM2-135M-Instruct.Q4_1.gguf"
threads="$(nproc)"
n_prompt=512
n_gen=128
reps=5
runs=1
max_load=""
max_wait=900
out=""
skip_pagoda=0
skip_llamacpp=0
pagoda_bin="${PAGODA_BIN:-$repo/build/bin/pagoda}"

while (($#)); do
  case "$1" in
    -m) model="$2"; shift 2 ;;
    -t) threads="$2"; shift 2 ;;
    -p) n_prompt="$2"; shift 2 ;;
    -n) n_gen="$2"; shift 2 ;;
    -r) reps="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --max-load) max_load="$2"; shift 2 ;;
    --max-wait) max_wait="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --skip-pagoda) skip_pagoda=1; shift ;;
    --skip-llamacpp) skip_llamacpp=1; shift ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "cpu_vs_llamacpp: unknown argument '$1'" >&2; exit 2 ;;
  esac
done

[ -f "$model" ] || { echo "cpu_vs_llamacpp: model not found: $model" >&2; exit 1; }
date_tag="$(date -u +%Y-%m-%d)"
[ -n "$out" ] || out="bench/results/cpu-$date_tag.md"
mkdir -p "$(dirname "$out")"

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$repo" diff --quiet HEAD 2>/dev/null || commit="$commit (working tree has uncommitted changes)"
cpu_model="$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"

llama_bench=""
llamacpp_commit="not run"
if ((!skip_llamacpp)); then
  bash "$repo/scripts/build_llamacpp.sh" >&2
  # shellcheck disable=SC1090
  . <(bash "$repo/scripts/build_llamacpp.sh" --print-env)
  llama_bench="$LLAMACPP_BIN/llama-bench"
  llamacpp_commit="$LLAMACPP_COMMIT ($LLAMACPP_VERSION)"
fi

llama_cmd=("$llama_bench" -m "$model" -p "$n_prompt" -n "$n_gen" -t "$threads" -r "$reps" -o md)
pagoda_cmd=("$pagoda_bin" bench -m "$model" -p "$n_prompt" -n "$n_gen" -t "$threads" -r "$reps")

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

load1() { cut -d' ' -f1 /proc/loadavg; }

# Waits until the machine is quiet enough (only with --max-load); prints a note when it gave up.
wait_for_low_load() {
  [ -n "$max_load" ] || return 0
  local waited=0
  while awk -v l="$(load1)" -v m="$max_load" 'BEGIN { exit !(l >= m) }'; do
    if ((waited >= max_wait)); then
      echo "(gave up waiting for load < $max_load after ${waited}s)"
      return 0
    fi
    sleep 15
    waited=$((waited + 15))
  done
  ((waited == 0)) || echo "(waited ${waited}s for load < $max_load)"
}

# One timed section: the load average before and after each run goes next to its table, because
# this machine is shared and other work changes the numbers.
run_tool() {  # name, then the command
  local name="$1"; shift
  local i
  for ((i = 1; i <= runs; i++)); do
    local note
    note="$(wait_for_low_load)"
    {
      echo "#### $name, run $i of $runs"
      echo
      [ -z "$note" ] || { echo "$note"; echo; }
      echo "load before: $(cut -d' ' -f1-3 /proc/loadavg), started $(date -u +%H:%M:%SZ)"
      echo
    } >> "$tmp/$name.md"
    if "$@" > "$tmp/out.txt" 2> "$tmp/err.txt"; then
      grep '^|' "$tmp/out.txt" >> "$tmp/$name.md" || cat "$tmp/out.txt" >> "$tmp/$name.md"
    else
      local rc=$?
      { echo "FAILED (exit $rc); last lines of stderr:"; echo '```'; tail -n 20 "$tmp/err.txt"; echo '```'; } \
        >> "$tmp/$name.md"
    fi
    { echo; echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"; echo; } >> "$tmp/$name.md"
    echo "cpu_vs_llamacpp: $name run $i/$runs done" >&2
  done
}

if ((!skip_llamacpp)); then
  run_tool llamacpp "${llama_cmd[@]}"
else
  echo "skipped (--skip-llamacpp)" > "$tmp/llamacpp.md"
fi
if ((skip_pagoda)); then
  echo "skipped (--skip-pagoda)" > "$tmp/pagoda.md"
elif [ ! -x "$pagoda_bin" ]; then
  echo "not run: $pagoda_bin not found (build Pagoda with scripts/build.sh first)" > "$tmp/pagoda.md"
else
  run_tool pagoda "${pagoda_cmd[@]}"
fi

{
  echo "# CPU: Pagoda vs llama.cpp, $date_tag"
  echo
  echo "- machine: $cpu_model, $(nproc) logical CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(uname -sr)"
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- pagoda commit: $commit"
  echo "- llama.cpp: $llamacpp_commit"
  echo "- model: $(basename "$model") ($(du -h "$model" | cut -f1))"
  echo "- threads: $threads; pp$n_prompt, tg$n_gen; $reps repetitions per test; $runs run(s) per tool"
  echo "- reproduce: \`bench/cpu_vs_llamacpp.sh -m $model -t $threads -p $n_prompt -n $n_gen -r $reps --runs $runs${max_load:+ --max-load $max_load}\`"
  echo "- load average: 1, 5 and 15 minutes (/proc/loadavg), before and after each run; this is a"
  echo "  shared machine, so a run that starts with a load near or above the thread count is noise"
  echo
  echo "## llama.cpp"
  echo
  echo "\`${llama_cmd[*]}\`"
  echo
  cat "$tmp/llamacpp.md"
  echo
  echo "## Pagoda"
  echo
  echo "\`${pagoda_cmd[*]}\`"
  echo
  cat "$tmp/pagoda.md"
} > "$out"
echo "cpu_vs_llamacpp: wrote $out" >&2
