#!/usr/bin/env python3
"""Golden values for juice's rope_scaling support, from an independent float64 PyTorch implementation.

Writes rope_golden.json: for Llama, Mistral, Qwen2 and GPT-NeoX with each supported rope_scaling type
(linear, dynamic, llama3, yarn; legacy "type" and "rope_type" keys; yarn with truncate, mscale,
attention_factor and original_max_position_embeddings), the logits, loss, per-token log-probs and the
gradient of the loss w.r.t. every weight of a padded two-row batch, plus the per-step logits of
KV-cache generation of one sequence (prefill of a prompt, then one token per step). juice's test
(../rope-golden.test.ts) reads the JSON; only regenerating needs torch:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/models/test/golden/make_rope_golden.py

The RoPE maths follows transformers 4.57 modeling_rope_utils (_compute_linear_scaling_rope_parameters,
_compute_dynamic_ntk_parameters, _compute_llama3_parameters, _compute_yarn_parameters) and the
dynamic_rope_update state machine (grow inv_freq when max(position_ids) + 1 exceeds the cached length,
reset below max_position_embeddings), written out here so the reference shares no code with juice.
Rows of the training batch are each computed as transformers computes that sequence alone (the
dynamic seq_len of a row is its own length); generation runs one sequence through the state machine
on a fresh model, so cached keys keep the rotation they were computed with.

Weights are not stored: both sides draw them from the same Park-Miller generator seeded by the
tensor's name (exact integer arithmetic, so identical in Python and JavaScript).
"""
import json
import math
import os
import torch

DT = torch.float64
MOD = 2147483647


def draw(name, n):
    """n uniforms in (0, 1): Park-Miller LCG (x ← 16807·x mod 2³¹−1) seeded from the name."""
    state = 1 + sum((i + 1) * ord(ch) for i, ch in enumerate(name)) % (MOD - 1)
    out = []
    for _ in range(n):
        state = state * 16807 % MOD
        out.append(state / MOD)
    return out


def make_weight(name, shape):
    n = math.prod(shape)
    u = torch.tensor(draw(name, n), dtype=DT).reshape(shape)
    if "norm" in name and name.endswith(".weight"):
        return 1 + 0.2 * (u - 0.5)
    return 0.6 * (u - 0.5) * (2 if name.endswith(".bias") else 1)


def sig(x):
    """12 significant digits: ample for a 1e-5 comparison, half the JSON."""
    return float("%.12g" % x)


# ---------------------------------------------------------------- RoPE (transformers semantics)

def rope_params(cfg, dim):
    rs = cfg.get("rope_scaling")
    return rs, (rs.get("rope_type", rs.get("type")) if rs else "default")


def inv_freq_for(cfg, dim, seq_len):
    """(inv_freq [dim/2], attention_factor) as transformers' ROPE_INIT_FUNCTIONS[rope_type](config, seq_len)."""
    rs, kind = rope_params(cfg, dim)
    base = cfg["rope_theta"] if "rope_theta" in cfg else cfg["rotary_emb_base"]
    idx = torch.arange(0, dim, 2, dtype=DT)
    default = 1.0 / (base ** (idx / dim))
    if kind == "default":
        return default, 1.0
    factor = rs["factor"]
    if kind == "linear":
        return default / factor, 1.0
    if kind == "dynamic":
        mpe = cfg["max_position_embeddings"]
        s = max(seq_len, mpe) if seq_len is not None else mpe
        b = base * ((factor * s / mpe) - (factor - 1)) ** (dim / (dim - 2))
        return 1.0 / (b ** (idx / dim)), 1.0
    if kind == "llama3":
        old = rs["original_max_position_embeddings"]
        lo, hi = rs["low_freq_factor"], rs["high_freq_factor"]
        low_wl, high_wl = old / lo, old / hi
        wavelen = 2 * math.pi / default
        out = torch.where(wavelen > low_wl, default / factor, default)
        smooth = (old / wavelen - lo) / (hi - lo)
        smoothed = (1 - smooth) * out / factor + smooth * out
        medium = ~(wavelen < high_wl) & ~(wavelen > low_wl)
        return torch.where(medium, smoothed, out), 1.0
    if kind == "yarn":
        original = rs.get("original_max_position_embeddings") or cfg["max_position_embeddings"]

        def mscale_of(scale, m=1.0):
            return 1.0 if scale <= 1 else 0.1 * m * math.log(scale) + 1.0

        attn = rs.get("attention_factor")
        if attn is None:
            if rs.get("mscale") and rs.get("mscale_all_dim"):
                attn = mscale_of(factor, rs["mscale"]) / mscale_of(factor, rs["mscale_all_dim"])
            else:
                attn = mscale_of(factor)
        beta_fast = rs.get("beta_fast") or 32
        beta_slow = rs.get("beta_slow") or 1

        def correction_dim(rot):
            return dim * math.log(original / (rot * 2 * math.pi)) / (2 * math.log(base))

        low, high = correction_dim(beta_fast), correction_dim(beta_slow)
        if rs.get("truncate", True):
            low, high = math.floor(low), math.ceil(high)
        low, high = max(low, 0), min(high, dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=DT) - low) / (high - low)).clamp(0, 1)
        extrap = 1 - ramp
        return (default / factor) * (1 - extrap) + default * extrap, attn
    raise ValueError(kind)


class Rotary:
    """transformers' RotaryEmbedding with @dynamic_rope_update: inv_freq state that grows and resets."""

    def __init__(self, cfg, dim):
        self.cfg, self.dim = cfg, dim
        self.kind = rope_params(cfg, dim)[1]
        self.inv, self.scale = inv_freq_for(cfg, dim, None)
        self.original_inv = self.inv
        self.cached = self.original = cfg["max_position_embeddings"]

    def __call__(self, positions):  # positions [T] of one sequence → cos, sin [T, dim]
        if self.kind == "dynamic":
            seq_len = int(positions.max()) + 1
            if seq_len > self.cached:
                self.inv, self.scale = inv_freq_for(self.cfg, self.dim, seq_len)
                self.cached = seq_len
            if seq_len < self.original and self.cached > self.original:
                self.inv, self.cached = self.original_inv, self.original
        freqs = positions[:, None].to(DT) * self.inv[None, :]
        emb = torch.cat((freqs, freqs), -1)
        return emb.cos() * self.scale, emb.sin() * self.scale


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


# ---------------------------------------------------------------- decoder stacks

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def is_neox(cfg):
    return cfg["model_type"] == "gpt_neox"


def rotary_dim(cfg):
    if is_neox(cfg):
        return int(cfg["hidden_size"] // cfg["num_attention_heads"] * cfg["rotary_pct"])
    return cfg["head_dim"]


def stack(cfg, W, ids, cos, sin, bias, past=None):
    """ids [B,T]; cos/sin [B,1,T,r]; bias [B,1,T,P+T]; past: per layer (k, v) [B,Hkv,P,d] already rotated.
    Returns logits [B,T,V] and the per-layer (k, v) including this call's tokens."""
    B, T = ids.shape
    neox = is_neox(cfg)
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = D // H if neox else cfg["head_dim"]
    Hkv = H if neox else cfg["num_key_value_heads"]
    r = rotary_dim(cfg)
    rot = lambda t: torch.cat((t[..., :r] * cos + rotate_half(t[..., :r]) * sin, t[..., r:]), -1)
    present = []
    if neox:
        eps = cfg["layer_norm_eps"]
        ln = lambda x, n: torch.nn.functional.layer_norm(x, (D,), W[n + ".weight"], W[n + ".bias"], eps)
        x = W["gpt_neox.embed_in.weight"][ids]
    else:
        eps = cfg["rms_norm_eps"]
        x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        if neox:
            p = f"gpt_neox.layers.{i}"
            h = ln(x, f"{p}.input_layernorm")
            qkv = (h @ W[f"{p}.attention.query_key_value.weight"].T + W[f"{p}.attention.query_key_value.bias"]).view(B, T, H, 3 * hd).permute(0, 2, 1, 3)
            q, k, v = qkv[..., :hd], qkv[..., hd:2 * hd], qkv[..., 2 * hd:]
        else:
            p = f"model.layers.{i}"
            h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)

            def proj(name, n):
                y = h @ W[f"{p}.self_attn.{name}.weight"].T
                if f"{p}.self_attn.{name}.bias" in W:
                    y = y + W[f"{p}.self_attn.{name}.bias"]
                return y.view(B, T, n, hd).transpose(1, 2)

            q, k, v = proj("q_proj", H), proj("k_proj", Hkv), proj("v_proj", Hkv)
        q, k = rot(q), rot(k)
        if past is not None:
            k = torch.cat((past[i][0], k), 2)
            v = torch.cat((past[i][1], v), 2)
        present.append((k, v))
        rep = H // Hkv
        kk, vv = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = (q @ kk.transpose(-1, -2)) / math.sqrt(hd) + bias
        o = (att.softmax(-1) @ vv).transpose(1, 2).reshape(B, T, H * hd)
        if neox:
            attn = o @ W[f"{p}.attention.dense.weight"].T + W[f"{p}.attention.dense.bias"]
            h2 = ln(x, f"{p}.post_attention_layernorm")
            mid = torch.nn.functional.gelu(h2 @ W[f"{p}.mlp.dense_h_to_4h.weight"].T + W[f"{p}.mlp.dense_h_to_4h.bias"])
            x = x + attn + mid @ W[f"{p}.mlp.dense_4h_to_h.weight"].T + W[f"{p}.mlp.dense_4h_to_h.bias"]
        else:
            x = x + o @ W[f"{p}.self_attn.o_proj.weight"].T
            h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
            gate = h2 @ W[f"{p}.mlp.gate_proj.weight"].T
            up = h2 @ W[f"{p}.mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ W[f"{p}.mlp.down_proj.weight"].T
    if neox:
        x = ln(x, "gpt_neox.final_layer_norm")
        head = W["embed_out.weight"]
    else:
        x = rms_norm(x, W["model.norm.weight"], eps)
        head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T, present


def shapes_of(cfg):
    D, I, V, H = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_attention_heads"]
    s = {}
    if is_neox(cfg):
        s["gpt_neox.embed_in.weight"] = [V, D]
        for i in range(cfg["num_hidden_layers"]):
            p = f"gpt_neox.layers.{i}"
            for n in ("input_layernorm", "post_attention_layernorm"):
                s[f"{p}.{n}.weight"], s[f"{p}.{n}.bias"] = [D], [D]
            s[f"{p}.attention.query_key_value.weight"], s[f"{p}.attention.query_key_value.bias"] = [3 * D, D], [3 * D]
            s[f"{p}.attention.dense.weight"], s[f"{p}.attention.dense.bias"] = [D, D], [D]
            s[f"{p}.mlp.dense_h_to_4h.weight"], s[f"{p}.mlp.dense_h_to_4h.bias"] = [I, D], [I]
            s[f"{p}.mlp.dense_4h_to_h.weight"], s[f"{p}.mlp.dense_4h_to_h.bias"] = [D, I], [D]
        s["gpt_neox.final_layer_norm.weight"], s["gpt_neox.final_layer_norm.bias"] = [D], [D]
        s["embed_out.weight"] = [V, D]
        return s
    Hkv, hd = cfg["num_key_value_heads"], cfg["head_dim"]
    s["model.embed_tokens.weight"] = [V, D]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        s[f"{p}.input_layernorm.weight"] = [D]
        s[f"{p}.self_attn.q_proj.weight"] = [H * hd, D]
        s[f"{p}.self_attn.k_proj.weight"] = [Hkv * hd, D]
        s[f"{p}.self_attn.v_proj.weight"] = [Hkv * hd, D]
        if cfg["model_type"] == "qwen2":
            s[f"{p}.self_attn.q_proj.bias"] = [H * hd]
            s[f"{p}.self_attn.k_proj.bias"] = [Hkv * hd]
            s[f"{p}.self_attn.v_proj.bias"] = [Hkv * hd]
        s[f"{p}.self_attn.o_proj.weight"] = [D, H * hd]
        s[f"{p}.post_attention_layernorm.weight"] = [D]
        s[f"{p}.mlp.gate_proj.weight"] = [I, D]
        s[f"{p}.mlp.up_proj.weight"] = [I, D]
        s[f"{p}.mlp.down_proj.weight"] = [D, I]
    s["model.norm.weight"] = [D]
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, D]
    return s


def token_ids(n, V, salt):
    return [1 + int(u * (V - 1)) for u in draw(f"ids-{salt}", n)]


def case(name, cfg, lengths, prompt, total):
    """lengths: real tokens of the two rows of the training batch (right padding to the longest);
    prompt/total: prefill length and final length of the generated sequence (row 0's tokens)."""
    V = cfg["vocab_size"]
    shapes = shapes_of(cfg)
    W = {n: make_weight(n, s).requires_grad_(True) for n, s in shapes.items()}
    T = max(lengths)
    rows = [token_ids(max(T, total), V, f"{name}-{b}") for b in range(2)]
    input_ids = torch.tensor([[row[t] if t < L else 0 for t in range(T)] for row, L in zip(rows, lengths)])
    mask = torch.tensor([[1 if t < L else 0 for t in range(T)] for L in lengths])
    labels = torch.full((2, T), -100)
    for b, L in enumerate(lengths):
        labels[b, : L - 1] = input_ids[b, 1:L]
    # Training forward: each row's tables as transformers computes them for that sequence alone.
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    r = rotary_dim(cfg)
    cs = [Rotary(cfg, r)(pos[b]) for b in range(2)]
    cos = torch.stack([c for c, _ in cs])[:, None]
    sin = torch.stack([s for _, s in cs])[:, None]
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & mask.bool()[:, None, None, :]
    bias = torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(-1e9, dtype=DT))
    logits, _ = stack(cfg, W, input_ids, cos, sin, bias)
    logp = logits.log_softmax(-1)
    valid = labels != -100
    tok = torch.where(valid, logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0], torch.zeros((), dtype=DT))
    loss = -tok.sum() / valid.sum()
    loss.backward()

    # Generation of row 0's tokens: prefill `prompt`, then one token per step up to `total`.
    with torch.no_grad():
        rotary = Rotary(cfg, r)
        seq = torch.tensor([rows[0][:total]])
        c, s = rotary(torch.arange(prompt))
        pre_logits, cache = stack(cfg, W, seq[:, :prompt], c[None, None], s[None, None],
                                  torch.where(torch.tril(torch.ones(prompt, prompt, dtype=torch.bool)), 0.0, -1e9).to(DT)[None, None])
        steps = [pre_logits[0, -1].tolist()]
        for t in range(prompt, total):
            c, s = rotary(torch.tensor([t]))
            step_logits, cache = stack(cfg, W, seq[:, t:t + 1], c[None, None], s[None, None], torch.zeros(1, 1, 1, t + 1, dtype=DT), cache)
            steps.append(step_logits[0, -1].tolist())
        full_logits, _ = stack(cfg, W, seq, *[x[None, None] for x in Rotary(cfg, r)(torch.arange(total))],
                               torch.where(torch.tril(torch.ones(total, total, dtype=torch.bool)), 0.0, -1e9).to(DT)[None, None])
        # How far the per-step logits are from re-running the whole sequence (nonzero only for dynamic).
        decode_vs_full = max(abs(a - b) for t, st in enumerate(steps) for a, b in zip(st, full_logits[0, prompt - 1 + t].tolist()))

    return {
        "name": name,
        "config": cfg,
        "input_ids": input_ids.tolist(),
        "attention_mask": mask.tolist(),
        "labels": labels.tolist(),
        "loss": sig(loss.item()),
        "token_logprobs": [sig(x) for x in tok.detach().flatten().tolist()],
        "logits": [sig(x) for x in logits.detach().flatten().tolist()],
        "grads": {n: [sig(x) for x in W[n].grad.flatten().tolist()] for n in shapes},
        "generation": {"ids": rows[0][:total], "prompt": prompt, "step_logits": [[sig(x) for x in st] for st in steps], "decode_vs_full": decode_vs_full},
    }


llama_base = {"vocab_size": 23, "hidden_size": 16, "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2,
              "num_key_value_heads": 1, "head_dim": 8, "rms_norm_eps": 1e-6, "rope_theta": 100.0, "tie_word_embeddings": False}
ARCH = {
    "llama": {**llama_base, "architectures": ["LlamaForCausalLM"], "model_type": "llama"},
    "mistral": {**llama_base, "architectures": ["MistralForCausalLM"], "model_type": "mistral"},
    "qwen2": {**llama_base, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "tie_word_embeddings": True},
    "gpt_neox": {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": 23, "hidden_size": 16,
                 "intermediate_size": 16, "num_hidden_layers": 1, "num_attention_heads": 2, "rotary_pct": 0.75,
                 "rotary_emb_base": 100, "layer_norm_eps": 1e-5, "use_parallel_residual": True, "hidden_act": "gelu",
                 "tie_word_embeddings": False},
}
# θ = 100 with 8 (neox: 6) rotary dims puts the wavelengths at ≈ 6, 20, 63, 200 positions, so small
# original lengths put them in every llama3 band and along the yarn ramp. Dynamic uses
# max_position_embeddings 8 and sequences that end below, at and past it.
SCALINGS = {
    "linear": [
        ({"type": "linear", "factor": 2.0}, 16),
        ({"rope_type": "linear", "factor": 3.5}, 16),
    ],
    "dynamic": [
        ({"rope_type": "dynamic", "factor": 2.0}, 8),
        ({"type": "dynamic", "factor": 4.0, "original_max_position_embeddings": 8}, 8),
    ],
    "llama3": [
        ({"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 2.0, "high_freq_factor": 5.0, "original_max_position_embeddings": 48}, 96),
        ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 32}, 64),
    ],
    "yarn": [
        ({"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64, "beta_fast": 4.0, "beta_slow": 0.25}, 256),
        ({"rope_type": "yarn", "factor": 3.0, "beta_fast": 4.0, "beta_slow": 0.25, "truncate": False, "mscale": 1.0, "mscale_all_dim": 0.5}, 64),
        ({"rope_type": "yarn", "factor": 2.0, "attention_factor": 1.3, "original_max_position_embeddings": 32}, 64),
        # max_position_embeddings 6 < 2π·beta_slow: both ramp ends clamp to 0 (transformers' low == high guard).
        ({"rope_type": "yarn", "factor": 4.0}, 6),
    ],
}
# (training row lengths, prompt, total) — for dynamic these cross max_position_embeddings = 8 differently.
SHAPES = [((12, 7), 5, 12), ((8, 9), 8, 11), ((11, 5), 10, 13), ((9, 12), 3, 10)]

cases = []
for a, arch in enumerate(["llama", "mistral", "qwen2", "gpt_neox"]):
    for kind, variants in SCALINGS.items():
        rs, mpe = variants[a % len(variants)]
        lengths, prompt, total = SHAPES[a]
        cfg = {**ARCH[arch], "max_position_embeddings": mpe, "rope_scaling": rs}
        cases.append(case(f"{arch}-{kind}", cfg, lengths, prompt, total))

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "rope_golden.json")
with open(out, "w") as f:
    json.dump({"generator": "make_rope_golden.py (torch %s, float64)" % torch.__version__, "cases": cases}, f)
print("wrote", out, os.path.getsize(out), "bytes")
for c in cases:
    print(c["name"], "decode vs full-sequence logits:", "%.3g" % c["generation"]["decode_vs_full"])
