#!/usr/bin/env python3
"""PyTorch eager reference for `npm run bench` (section "torch"): the same shapes as juice's sections.

Run:  env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 bench/torch/compare.py [--quick]
      .../python3 bench/torch/compare.py --train '{"vocab":..,"d":..,"inter":..,"layers":..,"heads":..,"tied":..,"batch":..,"seq":..,"steps":..}'
Prints one JSON object on its last line (milliseconds and tokens/s), read by bench/sections/torch.ts.
--train runs only a training process (fwd + CE + bwd, then AdamW) for bench/sections/train-memory.ts and
reports its step times and peak RSS (getrusage ru_maxrss: the whole process, as juice's child reports it).
A plain Llama written out here (RMSNorm, RoPE, SwiGLU, causal softmax attention, untied or tied head):
transformers is not needed, and no code is shared with juice.
"""
import json
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

torch.set_num_threads(os.cpu_count() or 1)
QUICK = "--quick" in sys.argv


class Llama(torch.nn.Module):
    def __init__(self, vocab, d, inter, layers, heads, tied):
        super().__init__()
        self.h, self.hd = heads, d // heads
        self.emb = torch.nn.Embedding(vocab, d)
        self.layers = torch.nn.ModuleList()
        for _ in range(layers):
            m = torch.nn.Module()
            m.n1 = torch.nn.Parameter(torch.ones(d))
            m.n2 = torch.nn.Parameter(torch.ones(d))
            m.q, m.k, m.v, m.o = (torch.nn.Linear(d, d, bias=False) for _ in range(4))
            m.gate, m.up = torch.nn.Linear(d, inter, bias=False), torch.nn.Linear(d, inter, bias=False)
            m.down = torch.nn.Linear(inter, d, bias=False)
            self.layers.append(m)
        self.norm = torch.nn.Parameter(torch.ones(d))
        self.head = None if tied else torch.nn.Linear(d, vocab, bias=False)
        inv = 1.0 / (10000 ** (torch.arange(0, self.hd, 2).float() / self.hd))
        ang = torch.outer(torch.arange(4096).float(), inv)
        self.cos, self.sin = torch.cat([ang, ang], -1).cos(), torch.cat([ang, ang], -1).sin()

    @staticmethod
    def rms(x, w, eps=1e-6):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(self, x, pos):
        c, s = self.cos[pos], self.sin[pos]
        x1, x2 = x[..., : self.hd // 2], x[..., self.hd // 2:]
        return x * c + torch.cat([-x2, x1], -1) * s

    def forward(self, ids, cache=None, start=0):
        B, T = ids.shape
        x = self.emb(ids)
        pos = torch.arange(start, start + T)
        new_cache = []
        for i, m in enumerate(self.layers):
            h = self.rms(x, m.n1)
            q = self.rope(m.q(h).view(B, T, self.h, self.hd).transpose(1, 2), pos)
            k = self.rope(m.k(h).view(B, T, self.h, self.hd).transpose(1, 2), pos)
            v = m.v(h).view(B, T, self.h, self.hd).transpose(1, 2)
            if cache is not None:
                k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
            new_cache.append((k, v))
            att = (q @ k.transpose(-1, -2)) / math.sqrt(self.hd)
            if T > 1:
                S = k.shape[2]
                att = att.masked_fill(torch.ones(T, S, dtype=torch.bool).triu(S - T + 1), float("-inf"))
            x = x + m.o((att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1))
            h = self.rms(x, m.n2)
            x = x + m.down(F.silu(m.gate(h)) * m.up(h))
        x = self.rms(x, self.norm)
        logits = x @ self.emb.weight.t() if self.head is None else self.head(x)
        return logits, new_cache


def best_of(fn, reps, warmup=1):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1000)
    return min(ts), sorted(ts)[len(ts) // 2]


out = {"torch": torch.__version__, "threads": torch.get_num_threads()}
torch.manual_seed(0)

if "--train" in sys.argv:
    import resource

    r = json.loads(sys.argv[sys.argv.index("--train") + 1])
    model = Llama(r["vocab"], r["d"], r["inter"], r["layers"], r["heads"], tied=r["tied"])
    ids = torch.randint(0, r["vocab"], (r["batch"], r["seq"]))
    labels = torch.randint(0, r["vocab"], (r["batch"], r["seq"]))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    steps, adamw = [], []
    for i in range(r["steps"] + 1):
        t = time.perf_counter()
        opt.zero_grad(set_to_none=False)
        logits, _ = model(ids)
        F.cross_entropy(logits.view(-1, r["vocab"]), labels.view(-1)).backward()
        t2 = time.perf_counter()
        opt.step()
        if i > 0:  # as juice's child: the first step is not timed
            steps.append((t2 - t) * 1000)
            adamw.append((time.perf_counter() - t2) * 1000)
    steps.sort()
    adamw.sort()
    out.update(step_best_ms=steps[0], step_median_ms=steps[len(steps) // 2], adamw_ms=adamw[len(adamw) // 2],
               max_rss_bytes=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps(out))
    sys.exit(0)

# Train step: Llama D512 L4 T128 B8, vocab 512 (bench/sections/train-step.ts), fwd + CE + bwd.
model = Llama(512, 512, 1376, 4, 8, tied=False)
B, T = 8, 128
ids = torch.randint(0, 512, (B, T))
labels = torch.randint(0, 512, (B, T))


def step():
    model.zero_grad(set_to_none=False)
    logits, _ = model(ids)
    F.cross_entropy(logits.view(-1, 512), labels.view(-1)).backward()


out["train_step_ms"], out["train_step_median_ms"] = best_of(step, 3 if QUICK else 8)
params = [p for p in model.parameters()]
out["params"] = sum(p.numel() for p in params)
opt = torch.optim.AdamW(params, lr=1e-3, weight_decay=0.01)
out["adamw_ms"], out["adamw_median_ms"] = best_of(opt.step, 5 if QUICK else 10, warmup=2)
out["clip_ms"], _ = best_of(lambda: torch.nn.utils.clip_grad_norm_(params, 1e-3), 5 if QUICK else 10)

# Decode and prefill: ~110 M Llama (bench/sections/generation.ts): 64-token prompts, 32 greedy tokens.
if not QUICK:
    big = Llama(32000, 768, 2048, 12, 12, tied=True).eval()
    with torch.no_grad():
        for b in (1, 16):
            prompt = torch.randint(0, 32000, (b, 64))
            big(prompt)
            t = time.perf_counter()
            logits, cache = big(prompt)
            prefill = time.perf_counter() - t
            tok = logits[:, -1].argmax(-1, keepdim=True)
            t = time.perf_counter()
            for i in range(31):
                logits, cache = big(tok, cache, 64 + i)
                tok = logits[:, -1].argmax(-1, keepdim=True)
            out[f"decode_b{b}_tps"] = b * 31 / (time.perf_counter() - t)
            out[f"prefill_b{b}_tps"] = b * 64 / prefill
print(json.dumps(out))
