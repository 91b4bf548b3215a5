#!/usr/bin/env python3
"""Cross-checks the llama.cpp fixture (tests/fixtures/smollm2_logits) with a float64 NumPy forward.

The NumPy forward dequantizes the GGUF's weights with the `gguf` package and runs the Llama
architecture in float64 with no activation quantization. llama.cpp quantizes activations to 8 bits
inside its quantized matmuls, so the two differ by a small, measured amount: this script prints
that amount (max |logit diff| over the stored entries, top-1 agreement) so that tests comparing
an exact implementation with the llama.cpp fixture can pick their tolerance from evidence.
It is a check of the fixture, not a fixture generator; it writes nothing unless --report is given.

Usage: .venv/bin/python tests/reference/llamacpp_crosscheck_numpy.py [--model PATH]
         [--fixture DIR] [--report FILE]
Needs: numpy, safetensors, gguf (scripts/requirements-test.txt).
"""
from __future__ import annotations

import argparse
import os
import pathlib
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize
from safetensors.numpy import load_file

REPO = pathlib.Path(__file__).resolve().parents[2]
HOME = pathlib.Path(os.environ.get("PAGODA_HOME", pathlib.Path.home() / ".cache" / "pagoda"))


class Model:
    """The llama-architecture hyperparameters and float64 weights of one GGUF file."""

    def __init__(self, path: pathlib.Path):
        r = GGUFReader(str(path))

        def kv(key):
            return r.fields[key].contents()

        arch = kv("general.architecture")
        if arch != "llama":
            raise SystemExit(f"only the llama architecture is supported here, not {arch}")
        self.n_layer = int(kv("llama.block_count"))
        self.n_embd = int(kv("llama.embedding_length"))
        self.n_head = int(kv("llama.attention.head_count"))
        self.n_head_kv = int(kv("llama.attention.head_count_kv"))
        self.eps = float(kv("llama.attention.layer_norm_rms_epsilon"))
        self.rope_base = float(kv("llama.rope.freq_base"))
        self.head_dim = self.n_embd // self.n_head
        self.w = {}
        for t in r.tensors:
            # GGUF dims are fastest-first; dequantize returns the row-major [rows, cols] array.
            a = dequantize(t.data, t.tensor_type).astype(np.float64)
            self.w[t.name] = a.reshape([int(d) for d in reversed(t.shape)])
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])  # tied embeddings

    def rms_norm(self, x, w):
        return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + self.eps) * w

    def rope(self, x, pos):
        # x [T, H, D]. GGUF llama Q/K weights are permuted so that rotation pairs are adjacent
        # (llama.cpp's LLAMA_ROPE_TYPE_NORM): rotate (x[2i], x[2i+1]) by pos * base^(-2i/D).
        D = x.shape[-1]
        inv = self.rope_base ** (-np.arange(0, D, 2, dtype=np.float64) / D)
        ang = pos[:, None].astype(np.float64) * inv[None, :]  # [T, D/2]
        c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
        x0, x1 = x[..., 0::2], x[..., 1::2]
        out = np.empty_like(x)
        out[..., 0::2] = x0 * c - x1 * s
        out[..., 1::2] = x0 * s + x1 * c
        return out

    def forward(self, tokens) -> np.ndarray:
        """tokens [T] -> logits [T, V] float64, causal attention over the whole sequence."""
        T = len(tokens)
        H, Hkv, D = self.n_head, self.n_head_kv, self.head_dim
        pos = np.arange(T)
        x = self.w["token_embd.weight"][np.asarray(tokens)]
        mask = np.triu(np.full((T, T), -np.inf), k=1)
        for i in range(self.n_layer):
            p = f"blk.{i}."
            h = self.rms_norm(x, self.w[p + "attn_norm.weight"])
            q = (h @ self.w[p + "attn_q.weight"].T).reshape(T, H, D)
            k = (h @ self.w[p + "attn_k.weight"].T).reshape(T, Hkv, D)
            v = (h @ self.w[p + "attn_v.weight"].T).reshape(T, Hkv, D)
            q, k = self.rope(q, pos), self.rope(k, pos)
            rep = H // Hkv
            k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
            s = np.einsum("thd,shd->hts", q, k) / np.sqrt(D) + mask
            s = np.exp(s - s.max(axis=-1, keepdims=True))
            s /= s.sum(axis=-1, keepdims=True)
            a = np.einsum("hts,shd->thd", s, v).reshape(T, H * D)
            x = x + a @ self.w[p + "attn_output.weight"].T
            h = self.rms_norm(x, self.w[p + "ffn_norm.weight"])
            g = h @ self.w[p + "ffn_gate.weight"].T
            u = h @ self.w[p + "ffn_up.weight"].T
            x = x + (g / (1.0 + np.exp(-g)) * u) @ self.w[p + "ffn_down.weight"].T
        x = self.rms_norm(x, self.w["output_norm.weight"])
        return x @ self.out.T


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=pathlib.Path,
                    default=HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf")
    ap.add_argument("--fixture", type=pathlib.Path,
                    default=REPO / "tests" / "fixtures" / "smollm2_logits")
    ap.add_argument("--report", type=pathlib.Path, help="also write the summary to this file")
    args = ap.parse_args()

    fx = load_file(str(args.fixture / "logits.safetensors"))
    model = Model(args.model)
    lines = []
    n = 0
    total_pos = total_agree = 0
    worst_topk = worst_full = worst_lse = worst_lp = 0.0
    while f"tokens.{n}" in fx:
        toks = fx[f"tokens.{n}"]
        ref = model.forward(toks)  # [T, V]
        idx = fx[f"topk_indices.{n}"]
        d_topk = np.abs(np.take_along_axis(ref, idx, axis=1) - fx[f"topk_values.{n}"]).max()
        d_full = np.abs(ref[fx[f"logits_positions.{n}"]] - fx[f"logits.{n}"]).max()
        m = ref.max(axis=1, keepdims=True)
        lse = m[:, 0] + np.log(np.exp(ref - m).sum(axis=1))
        d_lse = np.abs(lse - fx[f"logsumexp.{n}"]).max()
        # Log-probabilities drop the common shift of a whole row, which is most of the difference.
        d_lp = np.abs((np.take_along_axis(ref, idx, axis=1) - lse[:, None])
                      - (fx[f"topk_values.{n}"] - fx[f"logsumexp.{n}"][:, None])).max()
        agree = int((ref.argmax(axis=1) == fx[f"argmax.{n}"]).sum())
        total_pos += len(toks)
        total_agree += agree
        worst_topk, worst_full, worst_lse, worst_lp = (
            max(worst_topk, d_topk), max(worst_full, d_full), max(worst_lse, d_lse),
            max(worst_lp, d_lp))
        lines.append(f"prompt {n}: T={len(toks)} top-1 agree {agree}/{len(toks)}, "
                     f"max|diff| top-k {d_topk:.4f}, full rows {d_full:.4f}, logsumexp {d_lse:.4f}, "
                     f"top-k log-probs {d_lp:.4f}")
        n += 1
    # Greedy continuation: exact math should reproduce llama.cpp's tokens except after near-ties.
    prompt = fx["tokens.0"].tolist()
    gen = fx["greedy.0"].tolist()
    ref = model.forward(prompt + gen)[len(prompt) - 1:-1]
    margins = fx["greedy_margin.0"]
    misses = [i for i, t in enumerate(gen) if int(ref[i].argmax()) != t]
    greedy_agree = len(gen) - len(misses)
    lines.append(f"all: top-1 agree {total_agree}/{total_pos} ({100.0 * total_agree / total_pos:.1f}%), "
                 f"max|diff| top-k {worst_topk:.4f}, full rows {worst_full:.4f}, "
                 f"logsumexp {worst_lse:.4f}, top-k log-probs {worst_lp:.4f}")
    lines.append(f"greedy.0: float64 NumPy argmax, teacher-forced on llama.cpp's continuation, "
                 f"matches {greedy_agree}/{len(gen)} steps; misses at steps "
                 + (", ".join(f"{i} (llama.cpp top1-top2 margin {margins[i]:.3f})" for i in misses)
                    or "none"))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.report:
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
