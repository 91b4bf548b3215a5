#!/usr/bin/env python3
"""Golden token ids for Pagoda's tokenizer, from the Hugging Face `tokenizers` library.

For each test vocabulary (a GGUF file: llama.cpp's vocab-only GGUFs and, when present, the
SmolLM2 model) this script builds the equivalent Hugging Face tokenizer *from the GGUF data*
(vocab, merges or scores, token types, pre-tokenizer type), saves it as tokenizer.json, encodes
a fixed corpus with `tokenizers` and writes the expected ids. The C++ test loads both the GGUF and
the tokenizer.json with Pagoda and must reproduce the ids exactly.

How each GGUF becomes a tokenizer.json (this is the part that must not share a bug with Pagoda,
so it follows Hugging Face's own converters, not Pagoda's code):
  * tokenizer.ggml.model == "gpt2" (byte-level BPE): models.BPE(vocab = tokens by id, merges =
    tokenizer.ggml.merges in order, ignore_merges = True only for Llama 3 ("llama-bpe"), as in
    Meta's tokenizer.json). Pre-tokenizer by tokenizer.ggml.pre, copied from the models' own
    tokenizer.json files (the same ones llama.cpp's convert_hf_to_gguf_update.py hashes):
      gpt-2     ByteLevel(add_prefix_space=False, use_regex=True)
      smollm    Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False, use_regex=True)]
      llama-bpe Sequence[Split(LLAMA3_REGEX, isolated), ByteLevel(add_prefix_space=False, use_regex=False)]
      qwen2     Sequence[Split(QWEN2_REGEX, isolated), ByteLevel(add_prefix_space=False, use_regex=False)]
    Qwen2's real tokenizer.json also has an NFC normalizer; it is left out here on purpose
    because Pagoda (like llama.cpp) does not normalize (see src/tokenizer/README.md).
    Decoder ByteLevel. BOS via TemplateProcessing when the model adds BOS (llama.cpp's rule:
    tokenizer.ggml.add_bos_token, else true for llama-bpe and SPM, false for other BPE).
  * tokenizer.ggml.model == "llama" (SentencePiece BPE, Llama 2): what transformers'
    LlamaConverter produces: merges extracted from the vocabulary and scores with the algorithm of
    transformers' SentencePieceExtractor (every split of a piece into two vocabulary pieces is a
    merge; merges ordered by the merged piece's score, high first, ties by (id left, id right)),
    restricted to merged pieces of type NORMAL as in sentencepiece itself (control, unknown and
    byte pieces are never produced by merging); models.BPE(unk "<unk>", byte_fallback=True,
    fuse_unk=True); normalizer Sequence[Prepend("▁"), Replace(" ", "▁")] (add_space_prefix);
    decoder Sequence[Replace("▁", " "), ByteFallback, Fuse, Strip(left 1)].
  * Tokens of type CONTROL (3) or UNKNOWN (2) are added as special AddedTokens, USER_DEFINED (4)
    as non-special AddedTokens (always matched), all with normalized=False.

parse_special=false is encoded with `tokenizer.encode_special_tokens = True` (special added tokens
are then tokenized as text; non-special added tokens still match, as in Pagoda and llama.cpp).
Texts with invalid UTF-8 are decoded with bytes.decode("utf-8", "replace") before encoding;
Pagoda replaces invalid sequences the same way (maximal subparts -> U+FFFD) so it must match.

Usage: python3 tests/reference/tokenizer_make_fixture.py [--lcpp DIR] [--smollm2 GGUF] [--out DIR]
"""

import argparse
import hashlib
import json
import os
import platform
import shutil
import sys
import tarfile

import gguf
import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

GPT2_REGEX = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_REGEX = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""

TOKEN_TYPE_NORMAL, TOKEN_TYPE_UNKNOWN, TOKEN_TYPE_CONTROL, TOKEN_TYPE_USER_DEFINED = 1, 2, 3, 4

VOCABS = ["llama-spm", "llama-bpe", "qwen2", "gpt-2"]


def read_gguf(path):
    r = gguf.GGUFReader(path)

    def arr(key):
        f = r.fields.get(key)
        return None if f is None else [f.contents(i) for i in range(len(f.data))]

    def scalar(key):
        f = r.fields.get(key)
        return None if f is None else f.contents()

    return {
        "model": scalar("tokenizer.ggml.model"),
        "pre": scalar("tokenizer.ggml.pre") or "default",
        "tokens": arr("tokenizer.ggml.tokens"),
        "types": arr("tokenizer.ggml.token_type"),
        "scores": arr("tokenizer.ggml.scores"),
        "merges": arr("tokenizer.ggml.merges"),
        "bos": scalar("tokenizer.ggml.bos_token_id"),
        "add_bos": scalar("tokenizer.ggml.add_bos_token"),
    }


def spm_merges(tokens, scores, types):
    """transformers' SentencePieceExtractor.extract(vocab_scores), NORMAL merged pieces only."""
    vocab = {t: i for i, t in enumerate(tokens)}
    merges = []
    for piece, score, ty in zip(tokens, scores, types):
        if ty != TOKEN_TYPE_NORMAL:
            continue
        local = []
        for i in range(1, len(piece)):
            left, right = piece[:i], piece[i:]
            if left in vocab and right in vocab:
                local.append((left, right, score))
        local.sort(key=lambda m: (vocab[m[0]], vocab[m[1]]))
        merges.extend(local)
    merges.sort(key=lambda m: m[2], reverse=True)  # stable: keeps vocab order within a score
    return [(m[0], m[1]) for m in merges]


def build_tokenizer(g):
    tokens, types = g["tokens"], g["types"]
    vocab = {t: i for i, t in enumerate(tokens)}
    assert len(vocab) == len(tokens), "duplicate token strings"
    if g["model"] == "gpt2":
        merges = [tuple(m.split(" ", 1)) for m in g["merges"]]
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=(g["pre"] == "llama-bpe")))
        byte_level_regex = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        byte_level_plain = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
        if g["pre"] == "gpt-2":
            tok.pre_tokenizer = byte_level_regex
        elif g["pre"] == "smollm":
            tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level_regex])
        elif g["pre"] == "llama-bpe":
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Split(Regex(LLAMA3_REGEX), behavior="isolated", invert=False), byte_level_plain])
        elif g["pre"] == "qwen2":
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Split(Regex(QWEN2_REGEX), behavior="isolated", invert=False), byte_level_plain])
        else:
            raise SystemExit(f"no pre-tokenizer known for {g['pre']}")
        tok.decoder = decoders.ByteLevel()
        add_bos = g["add_bos"] if g["add_bos"] is not None else (g["pre"] == "llama-bpe")
    elif g["model"] == "llama":
        unk = tokens[types.index(TOKEN_TYPE_UNKNOWN)]
        merges = spm_merges(tokens, g["scores"], types)
        tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, byte_fallback=True, fuse_unk=True))
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
        tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
        add_bos = g["add_bos"] if g["add_bos"] is not None else True
    else:
        raise SystemExit(f"unsupported tokenizer model {g['model']}")

    added = []
    for t, ty in zip(tokens, types):
        if ty in (TOKEN_TYPE_CONTROL, TOKEN_TYPE_UNKNOWN):
            added.append(AddedToken(t, special=True, normalized=False))
        elif ty == TOKEN_TYPE_USER_DEFINED:
            added.append(AddedToken(t, special=False, normalized=False))
    tok.add_tokens(added)
    if add_bos and g["bos"] is not None:
        bos = tokens[g["bos"]]
        tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                           special_tokens=[(bos, g["bos"])])
    for t in added:  # every added token must keep its GGUF id
        assert tok.token_to_id(t.content) == vocab[t.content], t.content
    return tok


CPP_SNIPPET = (
    "#include <vector>\n\nint main() {\n\tstd::vector<int> v{1, 2, 3};\n\tfor (auto& x : v) {\n"
    "\t\tif (x % 2 == 0) {\n\t\t\tx *= 2;  // double evens\n\t\t}\n\t}\n\treturn 0;\n}\n")
PY_SNIPPET = (
    "def fib(n: int) -> int:\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n"
    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n\nclass Foo:\n"
    "        def deep(self):\n                return {'k': [1,2,3]}  # long indentation\n")


def corpus():
    """(name, bytes) pairs. Kept small; every case is encoded 3 ways."""
    c = [
        ("empty", ""),
        ("prose", "The quick brown fox jumps over the lazy dog. It wasn't the first time; "
                  "the dog, however, didn't mind at all!"),
        ("leading_space", " Hello world"),
        ("leading_spaces", "   Hello"),
        ("trailing_spaces", "Hello   "),
        ("contractions", "I'm sure you're right, but DON'T tell them I'VE said it. We'll see, they'd say."),
        ("digits", "1234567 and 3.14159, 2024-01-01, 0x7fff, 1,000,000 ٣٤٥"),
        ("whitespace_runs", "a  b   c    d\t\te\n\nf\n\n\n\ng \n h\r\n\r\ni  \n  j"),
        ("only_spaces", "          "),
        ("only_newlines", "\n\n\n"),
        ("code_cpp", CPP_SNIPPET),
        ("code_python", PY_SNIPPET),
        ("cjk", "我爱北京天安门。日本語のテキストです。한국어 문장입니다."),
        ("emoji", "Hi 👋🏽! Family: 👨‍👩‍👧‍👦, flag 🇫🇷, heart ❤️, llama 🦙."),
        ("combining", "Café vs Cafe\u0301, n\u0303, a\u0308\u0304, Ä\u0323, Zalgo: Z\u0351\u036b\u0343a\u0310\u0352l"),
        ("arabic_hindi", "مرحبا بالعالم! नमस्ते दुनिया, यह एक परीक्षण है।"),
        ("mixed_scripts", "Привет, мир! Γειά σου Κόσμε. שלום עולם."),
        ("special_strings", "<|im_start|>user\nHi<|im_end|>\n<|endoftext|><s></s><unk>"
                            "<|begin_of_text|><|eot_id|><|start_header_id|>x<|end_header_id|>"),
        ("special_adjacent", "a<|im_start|>b <|endoftext|> c<|eot_id|>\n</s>d"),
        ("partial_special", "<|im_start <|im_end|| <|endoftext| <s <|"),
        ("punctuation", "Wait... what?!?! (yes) [no] {maybe} -- \"quoted\" 'single' `tick` @#$%^&*_+=~|\\/"),
        ("urls", "See https://example.com/a/b?x=1&y=2#frag or mail me@example.org."),
        ("long_word", "Pneumonoultramicroscopicsilicovolcanoconiosis supercalifragilisticexpialidocious "
                      + "a" * 300),
        ("long_space_run", "x" + " " * 200 + "y" + "\n" * 50 + "z" + "\t" * 30),
        # Words that are whole tokens in Llama 3 but not reachable by merges (ignore_merges).
        ("vietnamese", "Cửa Việt, tiếng Việt: Hà Nội và Thành phố Hồ Chí Minh."),
        # (?i:'s) also matches U+017F LONG S under Unicode case folding, in Oniguruma as in PCRE2.
        ("case_folding", "it'\u017f ok '\u212a x, \u0130stanbul, STRASSE stra\u00dfe"),
        ("unicode_spaces", "a\u00a0b\u3000c\u2003d\u2028e\u0085f"),
    ]
    out = [(n, t.encode("utf-8")) for n, t in c]
    out += [
        ("invalid_lone_continuation", b"ab\x80cd"),
        ("invalid_truncated", b"caf\xc3 x \xe2\x82 y \xf0\x9f\x98"),
        ("invalid_bytes", b"\xff\xfe hello \xc0\xaf \xed\xa0\x80 \xf4\x90\x80\x80 \xf0\x80\x80\x80 end"),
        ("invalid_tail", b"tail \xe2\x82"),
    ]
    return out


def metaspace_variant(tok, scheme):
    """The same SentencePiece tokenizer in the newer tokenizer.json form: no normalizer, a
    Metaspace(prepend_scheme=scheme, split=False) pre-tokenizer. Metaspace does not prepend "▁" to
    text that already starts with a space, and "first" prepends only at the start of the text."""
    j = json.loads(tok.to_str())
    j["normalizer"] = None
    j["pre_tokenizer"] = {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": scheme, "split": False}
    return Tokenizer.from_str(json.dumps(j))


def make_fixture(name, gguf_path, out_dir, archive_dir, tok=None):
    g = read_gguf(gguf_path)
    if tok is None:
        tok = build_tokenizer(g)
        tok.save(os.path.join(archive_dir, f"{name}.tokenizer.json"))
    cases = []
    for case_name, raw in corpus():
        text = raw.decode("utf-8", errors="replace")
        tok.encode_special_tokens = False
        ids_special = tok.encode(text, add_special_tokens=False).ids
        ids_bos = tok.encode(text, add_special_tokens=True).ids
        tok.encode_special_tokens = True
        ids_plain = tok.encode(text, add_special_tokens=False).ids
        tok.encode_special_tokens = False
        cases.append({"name": case_name, "hex": raw.hex(), "special": ids_special, "plain": ids_plain,
                      "bos_special": ids_bos})
    # A larger mixed text: every corpus case joined, then encoded as a whole.
    whole = "\n".join(raw.decode("utf-8", errors="replace") for _, raw in corpus()) * 3
    cases.append({"name": "all_joined_x3", "hex": whole.encode("utf-8").hex(),
                  "special": tok.encode(whole, add_special_tokens=False).ids, "plain": None, "bos_special": None})
    fixture = {"vocab": name, "gguf": os.path.basename(gguf_path), "model": g["model"], "pre": g["pre"],
               "cases": cases}
    with open(os.path.join(out_dir, f"{name}.ids.json"), "w") as f:
        json.dump(fixture, f, ensure_ascii=True, separators=(",", ":"))
        f.write("\n")
    return g


def make_utf8_repair(out_dir):
    """Random byte strings and what Python's UTF-8 decoder (errors="replace") makes of them."""
    import random
    rng = random.Random(1234)
    interesting = [0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
                   0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFE, 0xFF]
    cases = []
    for _ in range(2000):
        n = rng.randint(1, 8)
        raw = bytes(rng.choice(interesting) if rng.random() < 0.8 else rng.randint(0, 255) for _ in range(n))
        cases.append([raw.hex(), raw.decode("utf-8", errors="replace").encode("utf-8").hex()])
    with open(os.path.join(out_dir, "utf8_repair.json"), "w") as f:
        json.dump(cases, f, separators=(",", ":"))
        f.write("\n")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lcpp", default="/tmp/lcpp/llama_cpp_python-0.3.36/vendor/llama.cpp/models")
    ap.add_argument("--smollm2", default=os.path.expanduser("~/.cache/pagoda/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "fixtures", "tokenizer"))
    args = ap.parse_args()
    out = os.path.abspath(args.out)
    stage = os.path.join(out, "_stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    sums = []
    for v in VOCABS:
        src = os.path.join(args.lcpp, f"ggml-vocab-{v}.gguf")
        dst = os.path.join(stage, os.path.basename(src))
        shutil.copyfile(src, dst)
        for ext in (".inp", ".out"):
            shutil.copyfile(src + ext, os.path.join(out, os.path.basename(src) + ext))
        sums.append((os.path.basename(src), sha256(src)))
        make_fixture(v, dst, out, stage)
        print("wrote", v)
        if v == "llama-spm":
            base = Tokenizer.from_file(os.path.join(stage, f"{v}.tokenizer.json"))
            for scheme in ("always", "first"):
                make_fixture(f"{v}-metaspace-{scheme}", dst, out, stage, metaspace_variant(base, scheme))
    if os.path.exists(args.smollm2):
        make_fixture("smollm2", args.smollm2, out, stage)
        sums.append((os.path.basename(args.smollm2), sha256(args.smollm2)))
        print("wrote smollm2")
    with tarfile.open(os.path.join(out, "vocabs.tar.xz"), "w:xz", preset=9) as tar:
        for f in sorted(os.listdir(stage)):
            info = tar.gettarinfo(os.path.join(stage, f), arcname=f)
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(os.path.join(stage, f), "rb") as fh:
                tar.addfile(info, fh)
    shutil.rmtree(stage)
    make_utf8_repair(out)
    from importlib.metadata import version
    with open(os.path.join(out, "versions.txt"), "w") as f:
        f.write(f"python {platform.python_version()}\ntokenizers {tokenizers.__version__}\ngguf {version('gguf')}\n")
        for name, digest in sums:
            f.write(f"sha256 {digest}  {name}\n")


if __name__ == "__main__":
    sys.exit(main())
