#!/usr/bin/env python3
"""Hugging Face transformers peer for `pagoda bench --device cuda`: the same architecture shape
with random bf16 weights on the GPU, eager and sdpa attention, batch-1 decode tokens/s at a few
contexts and prefill tokens/s. Timed with CUDA synchronisation; median of repeats.
Usage: hf_compare.py CONFIG.json"""
import json
import statistics
import sys
import time

import torch
import transformers

cfg_path = sys.argv[1]
with open(cfg_path) as f:
    raw = json.load(f)
model_type = raw["model_type"]
kwargs = {k: v for k, v in raw.items() if k != "model_type"}
config = transformers.AutoConfig.for_model(model_type, **kwargs)
print(f"transformers {transformers.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}")
print(f"shape: {cfg_path}\n")
print("| attention | test | tokens/s | ms |\n| --- | --- | ---: | ---: |")
torch.manual_seed(0)
for impl in ["sdpa", "eager"]:
    config._attn_implementation = impl
    with torch.device("cuda"):
        model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16, attn_implementation=impl)
    model.eval()
    vocab = raw["vocab_size"]
    for ctx in [128, 4096]:
        ids = torch.randint(0, vocab, (1, ctx), device="cuda")
        with torch.no_grad():
            out = model(ids, use_cache=True)
            past = out.past_key_values
            nxt = out.logits[:, -1:].argmax(-1)
            steps = 32
            for _ in range(3):  # warm-up (cache grows by 3)
                out = model(nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            t = time.perf_counter()
            for _ in range(steps):
                out = model(nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1:].argmax(-1)
            torch.cuda.synchronize()
            dt = (time.perf_counter() - t) / steps
        print(f"| {impl} | decode batch 1, context {ctx} | {1 / dt:.1f} | {dt * 1e3:.2f} |")
        del past, out
    for n in [1024, 4096]:
        ids = torch.randint(0, vocab, (1, n), device="cuda")
        ts = []
        with torch.no_grad():
            for r in range(4):
                torch.cuda.synchronize()
                t = time.perf_counter()
                model(ids, use_cache=False, logits_to_keep=1)
                torch.cuda.synchronize()
                ts.append(time.perf_counter() - t)
        dt = statistics.median(ts[1:])
        print(f"| {impl} | prefill {n} | {n / dt:.0f} | {dt * 1e3:.1f} |")
    del model
    torch.cuda.empty_cache()
