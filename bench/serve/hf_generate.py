#!/usr/bin/env python3
"""Hugging Face transformers peer for the GPU serving bench (bench/serve/gpu_serve.sh): the same
shape with random bf16 weights, batched greedy `generate` on prompts of random token ids, every
sequence forced to exactly OUT new tokens (min_new_tokens == max_new_tokens, so no early EOS).
Reports output tokens/s = batch * OUT / wall time of one generate() (after one warm-up call).
Usage: hf_generate.py CONFIG.json PROMPT_LEN OUT_LEN ATTN BATCH [BATCH ...]"""
import json
import sys
import time

import torch
import transformers

cfg_path, prompt_len, out_len, attn = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
batches = [int(b) for b in sys.argv[5:]]
with open(cfg_path) as f:
    raw = json.load(f)
config = transformers.AutoConfig.for_model(raw["model_type"], **{k: v for k, v in raw.items() if k != "model_type"})
config._attn_implementation = attn
torch.manual_seed(0)
with torch.device("cuda"):
    model = transformers.AutoModelForCausalLM.from_config(config, torch_dtype=torch.bfloat16, attn_implementation=attn)
model.eval()
print(f"# transformers {transformers.__version__}, torch {torch.__version__}, {torch.cuda.get_device_name()}, attn {attn}")
for b in batches:
    ids = torch.randint(0, raw["vocab_size"], (b, prompt_len), device="cuda")
    mask = torch.ones_like(ids)
    kw = dict(attention_mask=mask, do_sample=False, max_new_tokens=out_len, min_new_tokens=out_len,
              pad_token_id=0, eos_token_id=None)
    try:
        with torch.no_grad():
            model.generate(ids[:, :8], attention_mask=mask[:, :8], do_sample=False, max_new_tokens=4, pad_token_id=0)
            torch.cuda.synchronize()
            t = time.perf_counter()
            out = model.generate(ids, **kw)
            torch.cuda.synchronize()
            dt = time.perf_counter() - t
        n_out = (out.shape[1] - prompt_len) * b
        print(f"HF attn={attn} batch={b} out_tok_s={n_out / dt:.1f} total_tok_s={(n_out + b * prompt_len) / dt:.1f} s={dt:.2f}", flush=True)
    except torch.OutOfMemoryError:
        print(f"HF attn={attn} batch={b} OOM", flush=True)
        torch.cuda.empty_cache()
