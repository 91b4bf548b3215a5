#!/usr/bin/env python3
"""Writes a Hugging Face folder (config.json + sharded bf16 safetensors + index) with random weights
for a Llama-family config, so the real loading path (disk -> host -> device) can be timed at full
size where no checkpoint can be downloaded: make_random_hf.py CONFIG.json OUT_DIR [--shard-gb 5].
Weights are N(0, 0.02) (norms 1.0), drawn on the GPU when there is one. Not a trained model."""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file


def tensors(c):
    h, f, v = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    nh, nkv = c["num_attention_heads"], c["num_key_value_heads"]
    d = c.get("head_dim", h // nh)
    yield "model.embed_tokens.weight", (v, h)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (h,)
        yield p + "self_attn.q_proj.weight", (nh * d, h)
        yield p + "self_attn.k_proj.weight", (nkv * d, h)
        yield p + "self_attn.v_proj.weight", (nkv * d, h)
        yield p + "self_attn.o_proj.weight", (h, nh * d)
        yield p + "post_attention_layernorm.weight", (h,)
        yield p + "mlp.gate_proj.weight", (f, h)
        yield p + "mlp.up_proj.weight", (f, h)
        yield p + "mlp.down_proj.weight", (h, f)
    yield "model.norm.weight", (h,)
    if not c.get("tie_word_embeddings", False):
        yield "lm_head.weight", (v, h)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("out")
    ap.add_argument("--shard-gb", type=float, default=5.0)
    a = ap.parse_args()
    c = json.load(open(a.config))
    os.makedirs(a.out, exist_ok=True)
    shutil.copy(a.config, os.path.join(a.out, "config.json"))
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    g = torch.Generator(device=dev).manual_seed(0)
    shard, size, n, weight_map, total = {}, 0, 0, {}, 0

    def flush():
        nonlocal shard, size, n
        if not shard:
            return
        n += 1
        name = f"model-{n:05d}.safetensors"
        save_file(shard, os.path.join(a.out, name), metadata={"format": "pt"})
        for k in shard:
            weight_map[k] = name
        shard, size = {}, 0

    for name, shape in tensors(c):
        if len(shape) == 1:
            t = torch.ones(shape, dtype=torch.bfloat16)
        else:
            t = (torch.randn(shape, generator=g, device=dev, dtype=torch.float32) * 0.02).to(torch.bfloat16).cpu()
        shard[name] = t
        size += t.numel() * 2
        total += t.numel() * 2
        if size >= a.shard_gb * 1e9:
            flush()
    flush()
    with open(os.path.join(a.out, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, fh)
    print(f"{a.out}: {n} shards, {total / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
