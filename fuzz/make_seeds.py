#!/usr/bin/env python3
"""Writes the fuzz seed corpus (fuzz/corpus/{gguf,safetensors}/) with the reference writers:
the `gguf` package (llama.cpp's gguf-py) and `safetensors`. The outputs are committed; run this
again only to change the seeds. Files stay small (< 4 kB) so libFuzzer's default max_len fits."""
import os
import numpy as np
import gguf
from safetensors.numpy import save_file

here = os.path.dirname(os.path.abspath(__file__))
gdir = os.path.join(here, "corpus", "gguf")
sdir = os.path.join(here, "corpus", "safetensors")
os.makedirs(gdir, exist_ok=True)
os.makedirs(sdir, exist_ok=True)


def write_gguf(name, arch, build, alignment=None):
    path = os.path.join(gdir, name)
    w = gguf.GGUFWriter(path, arch)
    if alignment:
        w.add_custom_alignment(alignment)
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def llama_small(w):
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(8)
    w.add_feed_forward_length(12)
    w.add_head_count(2)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_freq_base(10000.0)
    w.add_token_list(["<s>", "a", "b", "ab"])
    w.add_token_types([3, 1, 1, 1])
    w.add_token_merges(["a b"])
    w.add_bool("test.flag", True)
    w.add_int8("test.i8", -3)
    w.add_uint16("test.u16", 7)
    w.add_int64("test.i64", -9)
    w.add_float64("test.f64", 0.5)
    w.add_array("test.nested", [[1, 2], [3]])
    w.add_tensor("token_embd.weight", np.arange(32, dtype=np.float32).reshape(4, 8))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float16))
    q = np.zeros((1, 34), dtype=np.uint8)  # one raw Q8_0 block of 32 elements
    w.add_tensor("blk.0.attn_q.weight", q, raw_dtype=gguf.GGMLQuantizationType.Q8_0)


def metadata_only(w):
    w.add_string("general.name", "seed")
    w.add_uint32("x", 1)


write_gguf("llama_small.gguf", "llama", llama_small)
write_gguf("aligned_64.gguf", "qwen2", llama_small, alignment=64)
write_gguf("metadata_only.gguf", "llama", metadata_only)

save_file({"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.ones(4, dtype=np.float16)},
          os.path.join(sdir, "two.safetensors"), metadata={"format": "pt"})
save_file({"i": np.arange(3, dtype=np.int64), "u": np.arange(5, dtype=np.uint8), "e": np.zeros((0, 4), np.float32)},
          os.path.join(sdir, "ints_empty.safetensors"))
save_file({}, os.path.join(sdir, "empty.safetensors"))
for d in (gdir, sdir):
    for f in sorted(os.listdir(d)):
        print(os.path.join(d, f), os.path.getsize(os.path.join(d, f)))
