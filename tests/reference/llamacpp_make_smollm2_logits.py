#!/usr/bin/env python3
"""Makes tests/fixtures/smollm2_logits/ from llama.cpp: reference logits for the default model.

Runs the default model (SmolLM2-135M-Instruct Q4_1 GGUF) through llama.cpp's own C API
(libllama.so built by scripts/build_llamacpp.sh, reached through the ctypes bindings that ship in
the same llama-cpp-python 0.3.36 sdist, loaded without compiling the Python package), on 4 prompts
given as explicit token ids, with logits for every position, f32 KV cache, flash attention off.
It stores a compact summary (full vocab is 49152 floats per position): see FORMAT below.
It does not touch Pagoda: the fixture is an independent reference, Pagoda's tests compare to it.

FORMAT (safetensors, N = prompt index 0..3, T = prompt length, K = 64, V = 49152):
  tokens.N         int32   [T]     prompt token ids (llama.cpp's tokenizer, parse_special=True)
  topk_indices.N   int32   [T, K]  ids of the K largest logits at each position, descending
  topk_values.N    float32 [T, K]  those logits
  argmax.N         int32   [T]     full-vocab argmax at each position (== topk_indices.N[:, 0])
  logsumexp.N      float32 [T]     full-vocab log-sum-exp of the logits at each position
  logits.N         float32 [S, V]  full logits at the positions in logits_positions.N
  logits_positions.N int32 [S]     = [0, T-1]
  greedy.0         int32   [G]     llama.cpp greedy continuation of prompt 0 (G = 32, EOG ignored)
  greedy_margin.0  float32 [G]     top1 - top2 logit gap at each greedy step (near-ties are fragile)
The prompt texts, ids and decoded pieces are also written to prompts.json for people to read.

Usage: .venv/bin/python tests/reference/llamacpp_make_smollm2_logits.py [--model PATH]
         [--out DIR] [--threads N]
Needs: numpy, safetensors; llama.cpp built by scripts/build_llamacpp.sh (run it first; this
script runs it for you when it is missing).
"""
from __future__ import annotations

import argparse
import ctypes
import datetime
import importlib.machinery
import importlib.util
import json
import os
import pathlib
import platform
import re
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

REPO = pathlib.Path(__file__).resolve().parents[2]
HOME = pathlib.Path(os.environ.get("PAGODA_HOME", pathlib.Path.home() / ".cache" / "pagoda"))
DEFAULT_MODEL = HOME / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "smollm2_logits"
TOP_K = 64
GREEDY_TOKENS = 32

# The chat prompt follows the model's own ChatML template (its default system prompt included).
PROMPTS = [
    ("chat",
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
     "<|im_end|>\n<|im_start|>user\nExplain in a few sentences why the sky is blue during the day"
     " and red at sunset.<|im_end|>\n<|im_start|>assistant\n"),
    ("english",
     "The river had been rising for three days when the villagers finally decided to move their "
     "animals to the hill behind the old church. Nobody remembered a flood like this one, not even "
     "the miller, who was ninety-two and liked to say he had seen everything twice."),
    ("code",
     "def fibonacci(n: int) -> list[int]:\n"
     "    \"\"\"Return the first n Fibonacci numbers.\"\"\"\n"
     "    seq = [0, 1]\n"
     "    while len(seq) < n:\n"
     "        seq.append(seq[-1] + seq[-2])\n"
     "    return seq[:n]\n"),
    ("numbers",
     "Prime numbers below fifty: 2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43"),
]


def llamacpp_env() -> dict[str, str]:
    """Reads $PAGODA_HOME/llamacpp/env.sh, building llama.cpp first when it is missing."""
    env_file = HOME / "llamacpp" / "env.sh"
    if not env_file.exists():
        subprocess.run(["bash", str(REPO / "scripts" / "build_llamacpp.sh")], check=True)
    env = {}
    for line in env_file.read_text().splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def load_bindings(env: dict[str, str]):
    """Imports llama_cpp/llama_cpp.py (ctypes bindings matching the vendored llama.h) from the
    sdist, without running the package __init__ (which pulls the high-level API and its deps)."""
    pkg_dir = pathlib.Path(env["LLAMACPP_SRC"]).parents[1] / "llama_cpp"
    os.environ["LLAMA_CPP_LIB_PATH"] = str(pathlib.Path(env["LLAMACPP_LIB"]).parent)
    spec = importlib.machinery.ModuleSpec("llama_cpp", None, is_package=True)
    pkg = importlib.util.module_from_spec(spec)
    pkg.__path__ = [str(pkg_dir)]
    sys.modules["llama_cpp"] = pkg
    import llama_cpp.llama_cpp as C  # noqa: E402  (after the stub package is in place)
    return C


_LOG_CALLBACK = None  # kept alive: llama.cpp holds the pointer


def quiet_logs(C) -> None:
    """Drops llama.cpp's info/debug chatter; warnings and errors still reach stderr."""
    global _LOG_CALLBACK

    shown = [False]

    def cb(level, text, _user):
        # GGML_LOG_LEVEL_WARN = 3, _ERROR = 4, _CONT = 5 (continues the previous message)
        if level in (3, 4) or (level == 5 and shown[0]):
            shown[0] = True
            sys.stderr.write(text.decode("utf-8", errors="replace"))
        elif level != 5:
            shown[0] = False

    _LOG_CALLBACK = C.llama_log_callback(cb)
    C.llama_log_set(_LOG_CALLBACK, None)


def tokenize(C, vocab, text: str) -> list[int]:
    raw = text.encode("utf-8")
    buf = (C.llama_token * (len(raw) + 16))()
    # add_special=False: this model's metadata says add_bos_token=False anyway; parse_special=True
    # so the ChatML markers become their single special tokens.
    n = C.llama_tokenize(vocab, raw, len(raw), buf, len(buf), False, True)
    if n < 0:
        raise RuntimeError(f"llama_tokenize failed ({n})")
    return list(buf[:n])


def piece(C, vocab, tok: int) -> str:
    buf = ctypes.create_string_buffer(256)
    n = C.llama_token_to_piece(vocab, tok, buf, len(buf), 0, True)
    return buf.raw[: max(n, 0)].decode("utf-8", errors="replace")


def decode_all(C, ctx, tokens: list[int], n_vocab: int) -> np.ndarray:
    """One batch, all positions output; returns logits [T, V] float32."""
    C.llama_memory_clear(C.llama_get_memory(ctx), True)
    T = len(tokens)
    batch = C.llama_batch_init(T, 0, 1)
    try:
        batch.n_tokens = T
        for i, t in enumerate(tokens):
            batch.token[i] = t
            batch.pos[i] = i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = 1
        rc = C.llama_decode(ctx, batch)
        if rc != 0:
            raise RuntimeError(f"llama_decode failed ({rc})")
        out = np.empty((T, n_vocab), dtype=np.float32)
        for i in range(T):
            p = C.llama_get_logits_ith(ctx, i)
            out[i] = np.ctypeslib.as_array(p, shape=(n_vocab,))
        return out
    finally:
        C.llama_batch_free(batch)


def greedy(C, ctx, prompt: list[int], n_vocab: int, steps: int):
    """llama.cpp greedy decoding, one token at a time through the KV cache (EOG ignored)."""
    logits = decode_all(C, ctx, prompt, n_vocab)[-1]
    out, margins = [], []
    pos = len(prompt)
    batch = C.llama_batch_init(1, 0, 1)
    try:
        for _ in range(steps):
            order = np.argsort(-logits, kind="stable")
            tok = int(order[0])
            out.append(tok)
            margins.append(float(logits[order[0]] - logits[order[1]]))
            batch.n_tokens = 1
            batch.token[0] = tok
            batch.pos[0] = pos
            batch.n_seq_id[0] = 1
            batch.seq_id[0][0] = 0
            batch.logits[0] = 1
            if C.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed during greedy decoding")
            logits = np.ctypeslib.as_array(C.llama_get_logits_ith(ctx, 0), shape=(n_vocab,)).copy()
            pos += 1
    finally:
        C.llama_batch_free(batch)
    return out, margins


def compact_json(doc) -> str:
    """Indented JSON with each innermost list on one line. A literal newline never occurs inside
    a JSON string (it is escaped), so collapsing newlines within a bracket pair only touches
    layout; the round trip is checked anyway."""
    text = json.dumps(doc, indent=1, ensure_ascii=False)
    text = re.sub(r"\[([^\[\]{}]*)\]", lambda m: "[" + re.sub(r"\n\s*", "", m.group(1)).strip() + "]",
                  text)
    assert json.loads(text) == doc
    return text


def logsumexp(x: np.ndarray) -> np.ndarray:
    x64 = x.astype(np.float64)
    m = x64.max(axis=-1, keepdims=True)
    return (m[..., 0] + np.log(np.exp(x64 - m).sum(axis=-1))).astype(np.float32)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", type=pathlib.Path, default=DEFAULT_MODEL)
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    env = llamacpp_env()
    C = load_bindings(env)
    quiet_logs(C)
    C.llama_backend_init()

    mparams = C.llama_model_default_params()
    mparams.n_gpu_layers = 0
    mparams.use_mmap = True
    model = C.llama_model_load_from_file(str(args.model).encode(), mparams)
    if not model:
        raise SystemExit(f"llama.cpp could not load {args.model}")
    vocab = C.llama_model_get_vocab(model)
    n_vocab = C.llama_vocab_n_tokens(vocab)

    cparams = C.llama_context_default_params()
    cparams.n_ctx = 512
    cparams.n_batch = 512
    cparams.n_ubatch = 512
    cparams.n_seq_max = 1
    cparams.n_threads = args.threads
    cparams.n_threads_batch = args.threads
    cparams.type_k = 0  # GGML_TYPE_F32
    cparams.type_v = 0  # GGML_TYPE_F32
    cparams.flash_attn_type = 0  # LLAMA_FLASH_ATTN_TYPE_DISABLED: plain f32 softmax(QK^T)V
    ctx = C.llama_init_from_model(model, cparams)
    if not ctx:
        raise SystemExit("llama.cpp could not create a context")

    tensors: dict[str, np.ndarray] = {}
    records = []
    for n, (name, text) in enumerate(PROMPTS):
        toks = tokenize(C, vocab, text)
        if not 16 <= len(toks) <= 64:
            raise SystemExit(f"prompt {n} ({name}) has {len(toks)} tokens, want 16..64")
        logits = decode_all(C, ctx, toks, n_vocab)
        if not np.isfinite(logits).all():
            raise SystemExit(f"non-finite logits for prompt {n}")
        T = len(toks)
        # Stable descending order so equal logits keep the lower id first, as argmax does.
        order = np.argsort(-logits, axis=1, kind="stable")[:, :TOP_K]
        tensors[f"tokens.{n}"] = np.asarray(toks, dtype=np.int32)
        tensors[f"topk_indices.{n}"] = order.astype(np.int32)
        tensors[f"topk_values.{n}"] = np.take_along_axis(logits, order, axis=1).astype(np.float32)
        tensors[f"argmax.{n}"] = logits.argmax(axis=1).astype(np.int32)
        tensors[f"logsumexp.{n}"] = logsumexp(logits)
        positions = np.asarray([0, T - 1], dtype=np.int32)
        tensors[f"logits.{n}"] = np.ascontiguousarray(logits[positions])
        tensors[f"logits_positions.{n}"] = positions
        records.append({
            "index": n, "name": name, "text": text, "n_tokens": T, "tokens": toks,
            "pieces": [piece(C, vocab, t) for t in toks],
            "next_token_argmax": [int(a) for a in tensors[f"argmax.{n}"]],
        })
        print(f"prompt {n} ({name}): {T} tokens, last argmax {int(tensors[f'argmax.{n}'][-1])}"
              f" ({piece(C, vocab, int(tensors[f'argmax.{n}'][-1]))!r})")

    gen, margins = greedy(C, ctx, tensors["tokens.0"].tolist(), n_vocab, GREEDY_TOKENS)
    tensors["greedy.0"] = np.asarray(gen, dtype=np.int32)
    tensors["greedy_margin.0"] = np.asarray(margins, dtype=np.float32)
    eog = [i for i, t in enumerate(gen) if C.llama_vocab_is_eog(vocab, t)]
    gen_text = "".join(piece(C, vocab, t) for t in gen)
    print(f"greedy continuation of prompt 0: {gen_text!r} (first EOG at {eog[0] if eog else None})")

    gen_pieces = [piece(C, vocab, t) for t in gen]
    system_info = C.llama_print_system_info().decode().strip()
    C.llama_free(ctx)
    C.llama_model_free(model)

    args.out.mkdir(parents=True, exist_ok=True)
    meta = {
        "source": "llama.cpp (vendored in llama-cpp-python==0.3.36)",
        "llama_cpp_commit": env.get("LLAMACPP_COMMIT", "unknown"),
        "model": args.model.name, "threads": str(args.threads), "kv_cache": "f32",
        "flash_attn": "disabled", "top_k": str(TOP_K),
    }
    save_file(tensors, str(args.out / "logits.safetensors"), metadata=meta)
    (args.out / "logits.safetensors").chmod(0o644)
    doc = {
        "prompts": records,
        "greedy": {"prompt_index": 0, "tokens": gen, "text": gen_text,
                   "pieces": gen_pieces,
                   "top1_top2_margin": [round(m, 4) for m in margins],
                   "first_eog_step": eog[0] if eog else None},
        "meta": meta,
    }
    (args.out / "prompts.json").write_text(compact_json(doc) + "\n")
    (args.out / "run-info.txt").write_text(
        f"date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}\n"
        f"command: {' '.join([pathlib.Path(sys.executable).name] + sys.argv)}\n"
        f"threads: {args.threads}\n"
        f"llama.cpp commit: {env.get('LLAMACPP_COMMIT')}\n"
        f"system_info: {system_info}\n"
        f"host: {platform.machine()} {platform.processor() or ''}\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
