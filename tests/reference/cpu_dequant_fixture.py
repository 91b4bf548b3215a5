#!/usr/bin/env python3
"""Writes tests/fixtures/cpu_dequant/rows.txt: a few rows of the SmolLM2 Q4_1 GGUF (Q4_1 weights and
the Q8_0 token embedding) with their raw block bytes, their absolute file offset, and their
dequantized values as computed by the `gguf` Python package (gguf.quants.dequantize), which is
independent of Pagoda's C++ code. The C++ test dequantizes the committed bytes (always) and re-reads
them from the model file when it is present.

usage: python3 tests/reference/cpu_dequant_fixture.py [model.gguf]
"""
import importlib.metadata
import os
import sys

import gguf
import numpy as np

DEFAULT = os.path.expanduser("~/.cache/pagoda/models/SmolLM2-135M-Instruct.Q4_1.gguf")
# (tensor, rows): a Q4_1 matrix with K = 1536 and one with K = 576; the Q8_0 embedding.
PICKS = [
    ("blk.0.ffn_down.weight", [0, 1, 575]),
    ("blk.7.attn_q.weight", [5, 300]),
    ("token_embd.weight", [0, 1000, 49151]),
]


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else DEFAULT
    reader = gguf.GGUFReader(path)
    tensors = {t.name: t for t in reader.tensors}
    out_dir = os.path.join(os.path.dirname(__file__), "..", "fixtures", "cpu_dequant")
    os.makedirs(out_dir, exist_ok=True)
    with open(path, "rb") as f:
        blob = f.read()
    lines = [
        "# Rows of SmolLM2-135M-Instruct.Q4_1.gguf (and synthetic blocks for formats the file lacks)",
        "# dequantized by gguf-py " + importlib.metadata.version("gguf"),
        "# written by tests/reference/cpu_dequant_fixture.py; format per row:",
        "# row <tensor> <dtype> <cols> <row index> <absolute file offset, -1: synthetic> <hex bytes>",
        "# values <cols floats, %.9g>",
    ]
    for name, rows in PICKS:
        t = tensors[name]
        cols = int(t.shape[0])  # GGUF lists the contiguous dimension first
        raw = np.asarray(t.data)  # [rows, row_bytes] of uint8
        deq = gguf.quants.dequantize(raw, t.tensor_type).reshape(-1, cols)
        row_bytes = raw.shape[1]
        for r in rows:
            off = int(t.data_offset) + r * row_bytes
            data = raw[r].tobytes()
            assert blob[off:off + row_bytes] == data, "offset bookkeeping is wrong"
            lines.append(f"row {name} {t.tensor_type.name} {cols} {r} {off} {data.hex()}")
            lines.append("values " + " ".join(f"{float(v):.9g}" for v in deq[r]))
    # Formats the model lacks: random bytes with sane fp16 scales, 2 blocks (K-quants: 2 super-blocks).
    rng = np.random.default_rng(1234)
    for qtype, block_bytes, block_elems, scale_offsets in [
        (gguf.GGMLQuantizationType.Q4_0, 18, 32, [0]),
        (gguf.GGMLQuantizationType.Q4_K, 144, 256, [0, 2]),
        (gguf.GGMLQuantizationType.Q6_K, 210, 256, [208]),
    ]:
        raw = rng.integers(0, 256, size=(2, block_bytes), dtype=np.uint8)
        for b in range(2):
            for off in scale_offsets:
                raw[b, off:off + 2] = np.frombuffer(np.float16(rng.uniform(-0.1, 0.1)).tobytes(), np.uint8)
        row = raw.reshape(1, -1)
        deq = gguf.quants.dequantize(row, qtype).reshape(-1)
        lines.append(f"row synthetic {qtype.name} {2 * block_elems} 0 -1 {row.tobytes().hex()}")
        lines.append("values " + " ".join(f"{float(v):.9g}" for v in deq))
    with open(os.path.join(out_dir, "rows.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
