"""End-to-end tests of `pagoda serve`: the official openai client and raw HTTP against a real server
process. Suite `tiny` uses the tiny-llama-gqa fixture (no tokenizer: token-id prompts; logprobs are
checked against the fixture's transformers float64 logits); suite `smollm2` uses the default model
(skipped with 77 when absent). Usage: test_server.py SUITE PAGODA_BINARY FIXTURES_DIR
"""

import http.client
import json
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
from concurrent.futures import ThreadPoolExecutor

SKIP = 77
API_KEY = "test-key"


class Server:
    """A `pagoda serve` process on a free port; stderr goes to a log file shown on failure."""

    def __init__(self, binary, args, api_key=API_KEY):
        self.api_key = api_key
        self.log_path = f"/tmp/pagoda-serve-test-{os.getpid()}-{random.randrange(1 << 30)}.log"
        self.log = open(self.log_path, "w+")
        cmd = [binary, "serve", "--port", "0", "--request-timeout", "2", "-t", "2"] + args
        if api_key:
            cmd += ["--api-key", api_key]
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        deadline = time.time() + 120
        self.port = None
        while time.time() < deadline and self.port is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.logs()}")
            m = re.search(r"listening on http://[\d.]+:(\d+)", self.logs())
            if m:
                self.port = int(m.group(1))
            else:
                time.sleep(0.1)
        if self.port is None:
            self.stop()
            raise RuntimeError(f"server did not start:\n{self.logs()}")
        self.url = f"http://127.0.0.1:{self.port}"

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # Raw HTTP helpers.
    def request(self, method, path, body=None, headers=None, auth=True, timeout=60):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        if auth and self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        h.update(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        data = r.read()
        conn.close()
        return r.status, dict(r.getheaders()), data

    def post(self, path, body, **kw):
        status, headers, data = self.request("POST", path, body, **kw)
        return status, headers, json.loads(data) if data else None

    def metrics(self):
        status, _, data = self.request("GET", "/metrics", auth=False)
        assert status == 200
        out = {}
        for line in data.decode().splitlines():
            if line.startswith("#") or not line.strip():
                continue
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
        return out

    def wait_idle(self, timeout=10):
        """Waits until no sequence runs or waits and no KV block is held; returns the metrics."""
        deadline = time.time() + timeout
        while True:
            m = self.metrics()
            if m["pagoda_kv_blocks_in_use"] == 0 and m["pagoda_num_requests_running"] == 0 and m["pagoda_num_requests_waiting"] == 0:
                return m
            if time.time() > deadline:
                raise AssertionError(f"server not idle: {m}")
            time.sleep(0.05)

    def client(self):
        import openai

        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.api_key or "none", max_retries=0, timeout=120)


def sse_events(raw):
    """Splits an SSE body into its data payloads (JSON objects and the final '[DONE]')."""
    out = []
    for ev in raw.decode().split("\n\n"):
        if not ev.strip():
            continue
        assert ev.startswith("data: "), ev
        payload = ev[len("data: "):]
        out.append(payload if payload == "[DONE]" else json.loads(payload))
    return out


def token_ids(logprobs_tokens):
    return [int(t.split(":")[1]) for t in logprobs_tokens]


def assert_error(tc, status, body, want_status, param=None, code=None):
    tc.assertEqual(status, want_status, body)
    tc.assertIn("error", body)
    err = body["error"]
    for k in ("message", "type", "param", "code"):
        tc.assertIn(k, err)
    tc.assertTrue(err["message"])
    if param is not None:
        tc.assertEqual(err["param"], param, err)
    if code is not None:
        tc.assertEqual(err["code"], code, err)


class TinyModelTests(unittest.TestCase):
    """tiny-llama-gqa: token-id prompts, exact references, limits, disconnects, malformed requests."""

    @classmethod
    def setUpClass(cls):
        cls.fixture = os.path.join(FIXTURES, "tiny-llama-gqa")
        cls.server = Server(BINARY, ["-m", cls.fixture, "-c", "1024", "--max-num-seqs", "32", "--max-queue", "200",
                                     "--max-num-batched-tokens", "96", "--max-body-bytes", "1048576"])
        from safetensors.numpy import load_file

        cls.golden = load_file(os.path.join(cls.fixture, "golden.safetensors"))

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        assert rc == 0, f"server exit code {rc}:\n{cls.server.logs()}"

    def complete(self, prompt, **kw):
        body = {"model": "tiny-llama-gqa", "prompt": prompt, "temperature": 0, "logprobs": 0}
        body.update(kw)
        status, _, r = self.server.post("/v1/completions", body)
        self.assertEqual(status, 200, r)
        return r

    def test_models_and_health(self):
        status, _, data = self.server.request("GET", "/health", auth=False)
        self.assertEqual((status, json.loads(data)), (200, {"status": "ok"}))
        models = self.server.client().models.list()
        self.assertEqual([m.id for m in models.data], ["tiny-llama-gqa"])

    def test_logprobs_match_transformers(self):
        # The fixture's float64 transformers logits are an independent reference: the served
        # logprobs are log_softmax of the raw logits at the last prompt position.
        import numpy as np

        for i in range(3):
            tokens = [int(t) for t in self.golden[f"tokens.{i}"]]
            logits = self.golden[f"logits.{i}"][-1].astype(np.float64)
            ref = logits - (logits.max() + np.log(np.exp(logits - logits.max()).sum()))
            r = self.server.client().completions.create(model="tiny-llama-gqa", prompt=tokens, max_tokens=1, temperature=0,
                                                         logprobs=5)
            lp = r.choices[0].logprobs
            chosen = token_ids(lp.tokens)[0]
            self.assertEqual(chosen, int(np.argmax(ref)))
            self.assertAlmostEqual(lp.token_logprobs[0], ref[chosen], delta=2e-3)
            top = sorted(((token_ids([t])[0], v) for t, v in lp.top_logprobs[0].items()), key=lambda x: -x[1])
            want = np.argsort(-ref)[:5]
            self.assertEqual([t for t, _ in top], [int(t) for t in want])
            for t, v in top:
                self.assertAlmostEqual(v, ref[t], delta=2e-3)

    def test_greedy_continuation_matches_transformers(self):
        prompt = [int(t) for t in self.golden["greedy.prompt"]]
        want = [int(t) for t in self.golden["greedy.continuation"]]
        r = self.complete(prompt, max_tokens=len(want))
        c = r["choices"][0]
        self.assertEqual(token_ids(c["logprobs"]["tokens"]), want)
        self.assertEqual(c["finish_reason"], "length")
        self.assertEqual(r["usage"]["prompt_tokens"], len(prompt))
        self.assertEqual(r["usage"]["completion_tokens"], len(want))
        self.assertEqual(r["usage"]["total_tokens"], len(prompt) + len(want))
        self.assertEqual(r["object"], "text_completion")

    def test_streaming_equals_non_streaming(self):
        prompt = [int(t) for t in self.golden["tokens.1"]]
        whole = self.complete(prompt, max_tokens=10)
        status, headers, raw = self.server.request(
            "POST", "/v1/completions",
            {"prompt": prompt, "max_tokens": 10, "temperature": 0, "logprobs": 0, "stream": True,
             "stream_options": {"include_usage": True}})
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/event-stream"))
        events = sse_events(raw)
        self.assertEqual(events[-1], "[DONE]")
        usage_chunk = events[-2]
        self.assertEqual(usage_chunk["choices"], [])
        self.assertEqual(usage_chunk["usage"]["completion_tokens"], 10)
        self.assertEqual(usage_chunk["usage"]["prompt_tokens"], len(prompt))
        chunks = events[:-2]
        streamed = [t for ch in chunks for t in token_ids(ch["choices"][0]["logprobs"]["tokens"])]
        self.assertEqual(streamed, token_ids(whole["choices"][0]["logprobs"]["tokens"]))
        self.assertEqual([ch["choices"][0]["finish_reason"] for ch in chunks], [None] * 9 + ["length"])
        for ch in chunks:
            self.assertIsNone(ch["usage"])
        # The openai client's own stream parser agrees.
        stream = self.server.client().completions.create(model="tiny-llama-gqa", prompt=prompt, max_tokens=10, temperature=0,
                                                          logprobs=0, stream=True)
        got = [t for ch in stream for c in ch.choices for t in token_ids(c.logprobs.tokens)]
        self.assertEqual(got, streamed)

    def test_parallel_sampling_seed_and_prefix_sharing(self):
        rng = random.Random(7)
        prompt = [rng.randrange(1024) for _ in range(40)]  # 2 full pages of 16: shared by the siblings
        before = self.server.metrics()
        body = dict(prompt=prompt, n=4, temperature=1.0, seed=1234, max_tokens=8, logprobs=0)
        a = self.complete(**body)
        b = self.complete(**body)
        self.assertEqual(sorted(c["index"] for c in a["choices"]), [0, 1, 2, 3])
        outs_a = [token_ids(c["logprobs"]["tokens"]) for c in sorted(a["choices"], key=lambda c: c["index"])]
        outs_b = [token_ids(c["logprobs"]["tokens"]) for c in sorted(b["choices"], key=lambda c: c["index"])]
        self.assertEqual(outs_a, outs_b)  # same seed, same tokens
        self.assertGreater(len({tuple(o) for o in outs_a}), 1)  # the choices are independent draws
        self.assertEqual(a["usage"]["prompt_tokens"], 40)  # the prompt counts once
        self.assertEqual(a["usage"]["completion_tokens"], sum(len(o) for o in outs_a))
        after = self.server.wait_idle()
        # Siblings (3 per request, 2 requests) each reuse the leader's 2 full prompt blocks.
        self.assertGreaterEqual(after["pagoda_prefix_cache_hits_total"] - before["pagoda_prefix_cache_hits_total"], 12)
        c = self.complete(prompt, temperature=1.0, seed=99, max_tokens=8)
        d = self.complete(prompt, temperature=1.0, seed=100, max_tokens=8)
        self.assertNotEqual(c["choices"][0]["logprobs"]["tokens"], d["choices"][0]["logprobs"]["tokens"])

    def test_batched_prompts(self):
        p1, p2 = [5, 6, 7], [8, 9, 10, 11]
        r = self.complete([p1, p2], max_tokens=4)
        self.assertEqual(len(r["choices"]), 2)
        for c, p in zip(sorted(r["choices"], key=lambda c: c["index"]), (p1, p2)):
            alone = self.complete(p, max_tokens=4)
            self.assertEqual(c["logprobs"]["tokens"], alone["choices"][0]["logprobs"]["tokens"])
        self.assertEqual(r["usage"]["prompt_tokens"], 7)

    def test_64_concurrent_streams_equal_alone(self):
        rng = random.Random(3)
        prompts = [[rng.randrange(1024) for _ in range(rng.randrange(3, 60))] for _ in range(64)]
        alone = [token_ids(self.complete(p, max_tokens=12)["choices"][0]["logprobs"]["tokens"]) for p in prompts]
        client = self.server.client()

        def run(p):
            stream = client.completions.create(model="tiny-llama-gqa", prompt=p, max_tokens=12, temperature=0, logprobs=0,
                                               stream=True)
            toks, finish = [], None
            for ch in stream:
                for c in ch.choices:
                    toks += token_ids(c.logprobs.tokens)
                    finish = c.finish_reason or finish
            return toks, finish

        with ThreadPoolExecutor(64) as ex:
            results = list(ex.map(run, prompts))
        for i, ((toks, finish), want) in enumerate(zip(results, alone)):
            self.assertEqual(toks, want, f"request {i}")
            self.assertEqual(finish, "length")
        self.server.wait_idle()

    def test_client_disconnect_cancels_and_frees_blocks(self):
        before = self.server.metrics()
        socks = []
        for i in range(6):
            s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
            body = json.dumps({"prompt": list(range(10 + i, 50 + i)), "max_tokens": 900, "temperature": 0, "stream": True})
            s.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode())
            got = b""
            while b"data: " not in got:
                chunk = s.recv(4096)
                self.assertTrue(chunk, "server closed the stream early")
                got += chunk
            socks.append(s)
        m = self.server.metrics()
        self.assertGreater(m["pagoda_kv_blocks_in_use"], 0)
        for s in socks:
            s.close()
        after = self.server.wait_idle(timeout=10)
        self.assertEqual(after["pagoda_kv_blocks_in_use"], 0)
        self.assertGreaterEqual(after['pagoda_request_finished_total{finished_reason="cancelled"}']
                                - before['pagoda_request_finished_total{finished_reason="cancelled"}'], 6)
        # A non-streaming request abandoned mid-generation is cancelled too.
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=30)
        body = json.dumps({"prompt": [1, 2, 3], "max_tokens": 1000, "temperature": 0})
        s.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
        deadline = time.time() + 10
        while self.server.metrics()["pagoda_num_requests_running"] == 0 and time.time() < deadline:
            time.sleep(0.01)
        s.close()
        self.server.wait_idle(timeout=10)

    def test_malformed_requests(self):
        srv = self.server
        ok = {"prompt": [1, 2, 3], "max_tokens": 2}

        def bad(body, status=400, param=None, code=None, path="/v1/completions", **kw):
            st, _, r = srv.post(path, body, **kw)
            assert_error(self, st, r, status, param, code)

        bad(b"{not json")
        bad(b"")
        bad(b"[1, 2]")
        bad(b'{"prompt": "\xff\xfe"}')  # invalid UTF-8
        bad(b"[" * 100000 + b"]" * 100000)
        bad({**ok, "max_tokens": "ten"}, param="max_tokens")
        bad({**ok, "max_tokens": 1.5}, param="max_tokens")
        bad({**ok, "max_tokens": -1}, param="max_tokens")
        bad({**ok, "max_tokens": 0}, param="max_tokens")
        bad({**ok, "max_tokens": 10 ** 30}, param="max_tokens")
        bad({**ok, "max_tokens": 2 ** 70}, param="max_tokens")
        bad({**ok, "max_tokens": 1022}, param="max_tokens")  # 3 + 1022 > 1024
        bad({**ok, "temperature": "hot"}, param="temperature")
        bad({**ok, "temperature": 5}, param="temperature")
        bad({**ok, "top_p": 0}, param="top_p")
        bad({**ok, "top_k": -5}, param="top_k")
        bad({**ok, "presence_penalty": 3}, param="presence_penalty")
        bad({**ok, "n": 0}, param="n")
        bad({**ok, "n": 10 ** 6}, param="n")
        bad({**ok, "stream": "yes"}, param="stream")
        bad({**ok, "stream_options": {"include_usage": True}}, param="stream_options")
        bad({**ok, "logprobs": 50}, param="logprobs")
        bad({**ok, "seed": "x"}, param="seed")
        bad({**ok, "stop": 5}, param="stop")
        bad({**ok, "stop": ["."]}, param="stop")  # no tokenizer: stop strings cannot match
        bad({"prompt": 12}, param="prompt")
        bad({"prompt": []}, param="prompt")
        bad({"prompt": [1, 99999]}, param="prompt")
        bad({"prompt": [-1]}, param="prompt")
        bad({"prompt": [1, "a"]}, param="prompt")
        bad({"prompt": "text needs a tokenizer"}, param="prompt")
        bad({"max_tokens": 2}, param="prompt")
        bad({"messages": "hi"}, param="messages", path="/v1/chat/completions")
        bad({"messages": [{"role": "user", "content": "hi"}]}, param="messages", path="/v1/chat/completions")
        bad({**ok, "model": "gpt-4"}, status=404, code="model_not_found")
        bad({**ok, "model": 7}, param="model")
        bad(ok, status=401, code="invalid_api_key", auth=False)
        bad(ok, status=401, code="invalid_api_key", auth=False, headers={"Authorization": "Bearer wrong"})
        bad(ok, status=404, path="/v1/nothing")
        st, headers, data = srv.request("GET", "/v1/completions")
        assert_error(self, st, json.loads(data), 405)
        self.assertEqual(headers.get("Allow"), "POST")
        st, _, data = srv.request("DELETE", "/health", auth=False)
        self.assertEqual(st, 405)
        # Too large: refused from the Content-Length alone, with a 413 the client can read.
        st, _, r = srv.post("/v1/completions", b'{"prompt": "' + b"a" * (2 << 20) + b'"}')
        assert_error(self, st, r, 413)
        # Not HTTP at all.
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(b"\x00\x01GARBAGE \xff\r\n\r\n")
        reply = s.recv(4096)
        self.assertTrue(reply == b"" or reply.startswith(b"HTTP/1.1 400"), reply)
        s.close()
        # The openai client raises the right exception types.
        import openai

        with self.assertRaises(openai.NotFoundError):
            srv.client().completions.create(model="nope", prompt=[1], max_tokens=1)
        with self.assertRaises(openai.BadRequestError):
            srv.client().completions.create(model="tiny-llama-gqa", prompt=[1], max_tokens=-3)
        # Still healthy, nothing leaked.
        self.assertEqual(srv.request("GET", "/health", auth=False)[0], 200)
        self.assertEqual(self.complete([1, 2, 3], max_tokens=2)["usage"]["completion_tokens"], 2)
        srv.wait_idle()

    def test_slow_partial_request_times_out_without_blocking_others(self):
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")  # never finished
        t0 = time.time()
        self.assertEqual(self.server.request("GET", "/health", auth=False)[0], 200)  # others are served meanwhile
        self.assertEqual(s.recv(4096), b"")  # closed by the server's 2 s request timeout
        self.assertLess(time.time() - t0, 8)
        s.close()
        # A body that stops half-way is cut off too.
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\"")
        self.assertEqual(s.recv(4096), b"")
        s.close()
        self.server.wait_idle()

    def test_keep_alive_reuses_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        h = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
        for i in range(5):
            conn.request("POST", "/v1/completions", body=json.dumps({"prompt": [1, 2, i], "max_tokens": 2, "stream": i % 2 == 1}),
                         headers=h)
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            r.read()
        conn.request("GET", "/nothing", headers=h)
        r = conn.getresponse()
        self.assertEqual(r.status, 404)
        r.read()
        conn.close()


class LimitsAndShutdownTests(unittest.TestCase):
    """Queue limits (429) and SIGTERM draining, each on its own server."""

    def test_too_many_requests_gets_429(self):
        srv = Server(BINARY, ["-m", os.path.join(FIXTURES, "tiny-llama-gqa"), "-c", "512", "--max-num-seqs", "1",
                              "--max-queue", "1"])
        try:
            def long_stream():
                return srv.request("POST", "/v1/completions",
                                   {"prompt": [1, 2, 3], "max_tokens": 500, "temperature": 0, "stream": True})

            with ThreadPoolExecutor(2) as ex:
                held = [ex.submit(long_stream) for _ in range(2)]
                deadline = time.time() + 20
                while time.time() < deadline:
                    m = srv.metrics()
                    if m["pagoda_num_requests_running"] + m["pagoda_num_requests_waiting"] >= 2:
                        break
                    time.sleep(0.005)
                st, headers, r = srv.post("/v1/completions", {"prompt": [1], "max_tokens": 1})
                assert_error(self, st, r, 429, code="rate_limit_exceeded")
                self.assertEqual(headers.get("Retry-After"), "1")
                for f in held:
                    self.assertEqual(f.result()[0], 200)
            self.assertEqual(srv.post("/v1/completions", {"prompt": [1], "max_tokens": 1})[0], 200)
            srv.wait_idle()
        finally:
            self.assertEqual(srv.stop(), 0)

    def test_sigterm_drains_and_exits_zero(self):
        srv = Server(BINARY, ["-m", os.path.join(FIXTURES, "tiny-llama-gqa"), "-c", "1024"])
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=60)
        body = json.dumps({"prompt": [4, 5, 6], "max_tokens": 600, "temperature": 0, "stream": True, "logprobs": 0})
        s.sendall((f"POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {API_KEY}\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n{body}").encode())
        got = b""
        while b"data: " not in got:
            got += s.recv(4096)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # No new connections are accepted while it drains.
        with self.assertRaises(OSError):
            c = socket.create_connection(("127.0.0.1", srv.port), timeout=2)
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            if not c.recv(100):
                raise OSError("closed")
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            got += chunk
            if got.endswith(b"0\r\n\r\n"):
                break
        s.close()
        # On failure, the server's stderr says whether it stopped, failed a handler or cut the stream.
        self.assertIn(b"data: [DONE]", got, f"stream ended after {len(got)} bytes; server log:\n{srv.logs()}")
        text = got.split(b"\r\n\r\n", 1)[1]
        finishes = re.findall(rb'"finish_reason":"(\w+)"', text)
        self.assertEqual(finishes, [b"length"])  # the request ran to its full length
        self.assertEqual(len(re.findall(rb'"tokens":\["token_id:', text)), 600)
        self.assertEqual(srv.proc.wait(30), 0, srv.logs())


class SmolLM2Tests(unittest.TestCase):
    """The default model: text prompts, the chat template, stop strings, logprobs, concurrency."""

    @classmethod
    def setUpClass(cls):
        cls.server = Server(BINARY, ["-m", SMOLLM2, "-c", "1024", "--max-num-seqs", "8", "--served-model-name", "smollm2"])
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        rc = cls.server.stop()
        assert rc == 0, f"server exit code {rc}:\n{cls.server.logs()}"

    def chat(self, content, **kw):
        args = dict(model="smollm2", messages=[{"role": "user", "content": content}], temperature=0, max_tokens=8)
        args.update(kw)
        return self.client.chat.completions.create(**args)

    def test_chat_stream_equals_non_stream(self):
        r = self.chat("What is 2 + 2?")
        c = r.choices[0]
        self.assertEqual(r.object, "chat.completion")
        self.assertEqual(c.message.role, "assistant")
        self.assertTrue(c.message.content)
        self.assertIn(c.finish_reason, ("stop", "length"))
        self.assertGreater(r.usage.prompt_tokens, 10)
        self.assertLessEqual(r.usage.completion_tokens, 8)
        self.assertEqual(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens)
        stream = self.chat("What is 2 + 2?", stream=True, stream_options={"include_usage": True})
        text, finish, usage, roles = "", None, None, []
        for ch in stream:
            if ch.usage:
                usage = ch.usage
            for d in ch.choices:
                text += d.delta.content or ""
                finish = d.finish_reason or finish
                if d.delta.role:
                    roles.append(d.delta.role)
        self.assertEqual(text, c.message.content)
        self.assertEqual(finish, c.finish_reason)
        self.assertEqual(roles, ["assistant"])
        self.assertEqual(usage.completion_tokens, r.usage.completion_tokens)
        self.assertEqual(usage.prompt_tokens, r.usage.prompt_tokens)

    def test_completion_stop_string(self):
        prompt = "The capital of France is Paris. The capital of Italy is"
        full = self.client.completions.create(model="smollm2", prompt=prompt, temperature=0, max_tokens=12)
        text = full.choices[0].text
        self.assertEqual(full.choices[0].finish_reason, "length")
        words = text.split()
        self.assertGreaterEqual(len(words), 3, text)
        stop = words[2]
        cut = self.client.completions.create(model="smollm2", prompt=prompt, temperature=0, max_tokens=12, stop=[stop, "@@@"])
        self.assertEqual(cut.choices[0].text, text[: text.index(stop)])
        self.assertEqual(cut.choices[0].finish_reason, "stop")
        # Streamed, the stop string is never emitted either.
        stream = self.client.completions.create(model="smollm2", prompt=prompt, temperature=0, max_tokens=12, stop=stop, stream=True)
        self.assertEqual("".join(c.text for ch in stream for c in ch.choices), text[: text.index(stop)])

    def test_chat_logprobs(self):
        r = self.chat("Name a color.", logprobs=True, top_logprobs=3, max_tokens=6)
        content = r.choices[0].logprobs.content
        self.assertEqual(len(content), r.usage.completion_tokens)
        joined = b"".join(bytes(t.bytes) for t in content).decode("utf-8", "replace")
        self.assertEqual(joined, r.choices[0].message.content)
        for t in content:
            self.assertEqual(len(t.top_logprobs), 3)
            self.assertEqual(t.top_logprobs[0].token, t.token)  # greedy picks the most likely token
            self.assertAlmostEqual(t.top_logprobs[0].logprob, t.logprob, places=5)
            self.assertLessEqual(t.logprob, 0.0)
            self.assertLessEqual(sum(math.exp(a.logprob) for a in t.top_logprobs), 1.0 + 1e-4)
            self.assertGreaterEqual(t.top_logprobs[0].logprob, t.top_logprobs[1].logprob)

    def test_seeded_sampling_and_n(self):
        args = dict(temperature=0.9, top_p=0.95, seed=42, n=2, max_tokens=6)
        a = self.chat("Tell me a word.", **args)
        b = self.chat("Tell me a word.", **args)
        self.assertEqual([c.message.content for c in a.choices], [c.message.content for c in b.choices])
        self.assertEqual(len(a.choices), 2)

    def test_concurrent_chats_equal_alone(self):
        questions = [f"Say the number {i} in words." for i in range(6)]
        alone = [self.chat(q).choices[0].message.content for q in questions]
        with ThreadPoolExecutor(6) as ex:
            together = list(ex.map(lambda q: self.chat(q).choices[0].message.content, questions))
        self.assertEqual(together, alone)
        self.server.wait_idle()


def main():
    global BINARY, FIXTURES, SMOLLM2
    suite_name, BINARY, FIXTURES = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        import openai  # noqa: F401
    except ImportError:
        print("the openai package is missing from the venv: run scripts/setup.sh")
        return SKIP
    if suite_name == "tiny":
        classes = [TinyModelTests, LimitsAndShutdownTests]
    else:
        home = os.environ.get("PAGODA_HOME") or os.path.expanduser("~/.cache/pagoda")
        SMOLLM2 = os.path.join(home, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
        if not os.path.exists(SMOLLM2):
            print(f"{SMOLLM2} is absent: skipped")
            return SKIP
        classes = [SmolLM2Tests]
    loader = unittest.TestLoader()
    suite = unittest.TestSuite(loader.loadTestsFromTestCase(c) for c in classes)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
