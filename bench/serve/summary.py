#!/usr/bin/env python3
"""One table from bench/serve/gpu_serve.sh's logs: per concurrency output and total tokens/s, the
fraction of the compute roofline (2 x parameters FLOPs per prompt and generated token, against the
bf16 GEMM peak measured in the same run), TTFT/ITL p50/p99, KV slack while saturated, and the
transformers peer. Usage: summary.py CONFIG.json bench.log metrics.log hf.log"""
import json
import re
import sys

cfg_path, bench_log, metrics_log, hf_log = sys.argv[1:5]
c = json.load(open(cfg_path))
H, L, I, V = c["hidden_size"], c["num_hidden_layers"], c["intermediate_size"], c["vocab_size"]
D = c.get("head_dim", H // c["num_attention_heads"])
Hkv = c.get("num_key_value_heads", c["num_attention_heads"])
per_layer = H * (c["num_attention_heads"] * D) * 2 + 2 * H * Hkv * D + 3 * H * I + 2 * H
params = L * per_layer + H + V * H * (1 if c.get("tie_word_embeddings") else 2)

text = open(bench_log).read()
peak = float(re.search(r"GEMM_TFLOPS (\d+)", text).group(1))
rows = {}
for block in text.split("=== concurrency ")[1:]:
    conc = int(block.split()[0])
    r = {}
    m = re.search(r"input tokens/s ([\d.]+) \| output tokens/s ([\d.]+)", block)
    if m: r["in"], r["out"] = float(m.group(1)), float(m.group(2))
    for name in ["TTFT", "ITL"]:
        m = re.search(rf"\| {name} \| ([\d.]+) \| ([\d.]+) \| ([\d.]+) \|", block)
        if m: r[name] = (float(m.group(2)), float(m.group(3)))
    m = re.search(r"completed (\d+) \| failed (\d+)", block)
    if m: r["done"] = f"{m.group(1)}/{int(m.group(1)) + int(m.group(2))}"
    rows[conc] = r

# KV slack: samples taken while the running batch was at its fullest for that concurrency.
samples = {}
for line in open(metrics_log):
    toks = line.split()
    if not toks or not toks[0].startswith("c="): continue
    kv = {toks[i]: float(toks[i + 1]) for i in range(1, len(toks) - 1, 2)}
    if "pagoda_kv_running_blocks" in kv: samples.setdefault(int(toks[0][2:]), []).append(kv)
for conc, ss in samples.items():
    top = max(s["pagoda_num_requests_running"] for s in ss)
    full = [s for s in ss if s["pagoda_num_requests_running"] >= top and s["pagoda_kv_running_blocks"] > 0]
    waste = [1 - s["pagoda_kv_running_tokens"] / (s["pagoda_kv_running_blocks"] * s["pagoda_kv_page_size"]) for s in full]
    if conc in rows and waste:
        rows[conc]["kv"] = (sum(waste) / len(waste), max(waste), int(top), len(full))

hf = {}
for line in open(hf_log):
    m = re.match(r"HF attn=(\w+) batch=(\d+) out_tok_s=([\d.]+) total_tok_s=([\d.]+)", line)
    if m: hf[(m.group(1), int(m.group(2)))] = (float(m.group(3)), float(m.group(4)))
hf_ref = hf.get(("eager", 32))  # the baseline: batch 32, eager

print(f"shape {cfg_path}: {params / 1e9:.3f} B parameters; roofline = (in + out tok/s) x 2 x params / {peak:.0f} TFLOP/s (bf16 GEMM 8192^3, this run)\n")
print("| concurrency | done | output tok/s | total tok/s | roofline | TTFT p50 / p99 ms | ITL p50 / p99 ms | KV slack (mean / max, running, samples) | x HF eager b32 |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for conc in sorted(rows):
    r = rows[conc]
    if "out" not in r:
        print(f"| {conc} | failed | | | | | | | |")
        continue
    total = r["in"] + r["out"]
    frac = total * 2 * params / (peak * 1e12)
    kv = r.get("kv")
    kvs = f"{kv[0] * 100:.2f}% / {kv[1] * 100:.2f}% ({kv[2]}, {kv[3]})" if kv else "n/a"
    ratio = f"{r['out'] / hf_ref[0]:.1f}x" if hf_ref else "n/a"
    print(f"| {conc} | {r.get('done', '')} | {r['out']:.0f} | {total:.0f} | {frac * 100:.1f}% | {r['TTFT'][0]:.0f} / {r['TTFT'][1]:.0f} | "
          f"{r['ITL'][0]:.1f} / {r['ITL'][1]:.1f} | {kvs} | {ratio} |")
print("\n| transformers generate | batch | output tok/s | total tok/s | roofline |\n| --- | ---: | ---: | ---: | ---: |")
for (attn, b), (o, t) in sorted(hf.items()):
    print(f"| {attn} | {b} | {o:.0f} | {t:.0f} | {t * 2 * params / (peak * 1e12) * 100:.1f}% |")
