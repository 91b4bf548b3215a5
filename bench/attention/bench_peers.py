#!/usr/bin/env python3
"""Peers and ceilings for the attention benchmark, on the same GPU in the same run: measured copy
bandwidth and bf16 GEMM rate, PyTorch SDPA (flash and cuDNN backends) for causal prefill and
decode; then merges Pagoda's numbers (JSON lines from bench_attention) into one markdown table.
Usage: bench_peers.py PAGODA_JSONL OUT_MD [prefill-d64|prefill]
prefill-d64: only the head-dim-64 prefill table (bench_attention prefill-d64), at the head counts the
JSON lines name. prefill: the D = 128 prefill rows only (no decode peers)."""
import json
import os
import subprocess
import sys
import datetime

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from triton.testing import do_bench

H, HKV, D = 32, 8, 128
dev = "cuda"


def ms(fn):
    return do_bench(fn, warmup=25, rep=100, return_mode="median")


def ceilings():
    n = 1 << 30  # 1 GiB
    a = torch.empty(n, dtype=torch.uint8, device=dev).random_(0, 255)
    b = torch.empty_like(a)
    t = ms(lambda: b.copy_(a))
    copy_tbps = 2 * n / (t * 1e-3) / 1e12  # bytes read + written
    x = torch.randn(8192, 8192, dtype=torch.bfloat16, device=dev)
    y = torch.randn(8192, 8192, dtype=torch.bfloat16, device=dev)
    t = ms(lambda: x @ y)
    gemm = 2 * 8192**3 / (t * 1e-3) / 1e12
    del a, b, x, y
    return copy_tbps, gemm


def sdpa(q, k, v, backend, causal):
    def run():
        with sdpa_kernel([backend]):
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)

    try:
        run()
        return ms(run), "gqa"
    except Exception:
        kk = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
        vv = v.repeat_interleave(q.shape[1] // k.shape[1], dim=1)

        def run2():
            with sdpa_kernel([backend]):
                return F.scaled_dot_product_attention(q, kk, vv, is_causal=causal)

        try:
            run2()
            return ms(run2), "kv expanded"
        except Exception as e:  # backend refuses this shape
            return None, str(e).splitlines()[0][:60]


def header(props, copy_tbps, gemm, mode):
    build = os.environ.get("PAGODA_ATTN_BUILD", "build-attn3")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return [
        "# CUDA attention benchmark",
        "",
        f"- device: {props.name} ({props.multi_processor_count} SMs), torch {torch.__version__}",
        f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='minutes')}",
        f"- commit: {commit or 'unknown'} (plus the working tree sent with the run)",
        f"- command: `PAGODA_ATTN_BUILD={build} bash bench/attention/build_carry.sh` here, then `PAGODA_ATTN_BUILD={build} bash bench/attention/gpu_session.sh {mode}` on the device machine (carry {build}/carry)",
        f"- measured ceilings: copy {copy_tbps:.2f} TB/s (read+write, 1 GiB), bf16 GEMM 8192^3 {gemm:.0f} TFLOP/s",
    ]


def prefill_d64(pagoda, out_md):
    """Head dim 64, causal bf16, 16k tokens per launch: every Pagoda variant beside SDPA flash / cuDNN."""
    copy_tbps, gemm = ceilings()
    props = torch.cuda.get_device_properties(0)
    mine = [p for p in pagoda if p["op"] == "prefill-d64"]
    heads = sorted({(p["h"], p["hkv"]) for p in mine}, reverse=True)
    impls = sorted({p["impl"] for p in mine})
    backends = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    d = 64
    lines = header(props, copy_tbps, gemm, "prefill-d64") + [
        f"- shapes: D={d}, bf16, causal, 16k tokens per launch (FLOPs 4*T^2*D*H/2), Pagoda KV paged (P=16, "
        "shuffled pages), PyTorch's contiguous; TFLOP/s. pagoda-paged16 is the default dispatch; -bn32 / -bn64 "
        "the mma.sync kernel forced, -sm90 the sm_90a kernel forced.",
        "",
        "| H / Hkv | seq | " + " | ".join(impls) + " | SDPA flash | SDPA cuDNN |",
        "| --- | --- | " + " | ".join("---" for _ in impls) + " | --- | --- |",
    ]
    for h, hkv in heads:
        for L in sorted({p["seq"] for p in mine if p["h"] == h and p["hkv"] == hkv}):
            B = 16384 // L
            flops = 4 * L * L * d * h / 2 * B
            q = torch.randn(B, h, L, d, dtype=torch.bfloat16, device=dev)
            k = torch.randn(B, hkv, L, d, dtype=torch.bfloat16, device=dev)
            v = torch.randn(B, hkv, L, d, dtype=torch.bfloat16, device=dev)
            peer = []
            for _, be in backends:
                t, how = sdpa(q, k, v, be, True)
                peer.append(f"{flops / (t * 1e-3) / 1e12:.1f} ({how})" if t else f"n/a ({how})")
            got = {p["impl"]: p["tflops"] for p in mine if p["h"] == h and p["hkv"] == hkv and p["seq"] == L}
            cells = [f"{got[i]:.1f}" if i in got else "-" for i in impls]
            lines.append(f"| {h} / {hkv} | {L} x{B} | " + " | ".join(cells) + " | " + " | ".join(peer) + " |")
            del q, k, v
    text = "\n".join(lines) + "\n"
    open(out_md, "w").write(text)
    print(text)


def main():
    pagoda = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
    out_md = sys.argv[2]
    if len(sys.argv) > 3 and sys.argv[3] == "prefill-d64":
        return prefill_d64(pagoda, out_md)
    prefill_only = len(sys.argv) > 3 and sys.argv[3] == "prefill"
    copy_tbps, gemm = ceilings()
    props = torch.cuda.get_device_properties(0)
    rows = []
    backends = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)]
    for L in [1024, 2048, 4096, 8192, 16384]:
        B = 16384 // L
        flops = 4 * L * L * D * H / 2 * B
        q = torch.randn(B, H, L, D, dtype=torch.bfloat16, device=dev)
        k = torch.randn(B, HKV, L, D, dtype=torch.bfloat16, device=dev)
        v = torch.randn(B, HKV, L, D, dtype=torch.bfloat16, device=dev)
        peers = {}
        for name, be in backends:
            t, how = sdpa(q, k, v, be, True)
            peers[name] = (flops / (t * 1e-3) / 1e12, how) if t else (None, how)
        mine = {p["impl"]: p["tflops"] for p in pagoda if p["op"] == "prefill" and p["seq"] == L}
        rows.append(("prefill", f"seq {L} x{B}", mine, peers, "TFLOP/s", gemm))
        del q, k, v
    decode_shapes = [(1, 8192), (1, 32768), (1, 131072), (16, 8192), (64, 4096), (128, 2048)]
    for B, ctx in decode_shapes if not prefill_only else []:
        kvb = B * ctx * HKV * D * 2 * 2
        q = torch.randn(B, H, 1, D, dtype=torch.bfloat16, device=dev)
        k = torch.randn(B, HKV, ctx, D, dtype=torch.bfloat16, device=dev)
        v = torch.randn(B, HKV, ctx, D, dtype=torch.bfloat16, device=dev)
        peers = {}
        for name, be in backends:
            t, how = sdpa(q, k, v, be, False)
            peers[name] = (kvb / (t * 1e-3) / 1e12, how) if t else (None, how)
        mine = {p["impl"]: p["tbps"] for p in pagoda if p["op"] == "decode" and p["batch"] == B and p["ctx"] == ctx}
        rows.append(("decode", f"B{B} ctx {ctx}", mine, peers, "TB/s K+V", copy_tbps))
        del q, k, v

    lines = header(props, copy_tbps, gemm, "prefill" if prefill_only else "bench") + [
        "- shapes: 32 q heads / 8 KV heads, D=128, bf16; prefill causal, 16k tokens per launch "
        "(FLOPs 4*T^2*D*H/2); decode 1 query token, K+V bytes read / time; Pagoda decode KV is paged "
        "(P=16, shuffled pages), PyTorch's is contiguous. Pagoda timed as CUDA-graph replays over "
        "rotating KV copies (working set > L2); peers with triton do_bench (median).",
        "- roofline fraction: prefill vs the measured GEMM rate; decode vs the measured copy bandwidth.",
        "",
        "| op | shape | Pagoda | fraction | Pagoda variant 2 | SDPA flash | SDPA cuDNN | unit |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for op, shape, mine, peers, unit, roof in rows:
        keys = sorted(mine)
        main_key = "pagoda-paged16" if "pagoda-paged16" in mine else ("pagoda" if "pagoda" in mine else (keys[0] if keys else None))
        other = [k for k in keys if k != main_key]
        m = mine.get(main_key)
        frac = f"{m / roof:.0%}" if m else "-"
        alt = "; ".join(f"{k}: {mine[k]:.2f}" for k in other) or "-"
        pf = lambda p: f"{p[0]:.2f} ({p[1]})" if p[0] else f"n/a ({p[1]})"
        lines.append(f"| {op} | {shape} | {main_key}: {m:.2f} | {frac} | {alt} | {pf(peers['flash'])} | {pf(peers['cudnn'])} | {unit} |"
                     if m else f"| {op} | {shape} | - | - | {alt} | {pf(peers['flash'])} | {pf(peers['cudnn'])} | {unit} |")
    text = "\n".join(lines) + "\n"
    open(out_md, "w").write(text)
    print(text)


if __name__ == "__main__":
    main()
