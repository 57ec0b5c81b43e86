#!/usr/bin/env python3
"""Golden values for the Hugging Face config keys attention_bias, mlp_bias, sliding_window (with Qwen2's
use_sliding_window / max_window_layers / layer_types) and head_dim, from an independent float64 PyTorch
implementation.

Writes config_golden.json: per case the config.json, weights (HF names), inputs, and the logits, loss,
per-token log-probs, per-sequence sums and the gradient of the loss w.r.t. every weight (one reward-model
case: rewards and gradients). juice's test (config-golden.test.ts) reads the JSON and also checks its
prefill + KV-cache decode path against `logits`; only regenerating needs torch:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/models/test/golden/make_config_golden.py

Semantics written out from transformers (modeling_llama / modeling_mistral / modular_mistral /
modeling_qwen2 / configuration_qwen2 / configuration_mistral / modeling_gpt_neox, and masking_utils'
sliding_window_overlay: key j is visible to query i iff j <= i and j > i - sliding_window, on sequence
indices), sharing no code with juice:
- Llama: attention_bias puts a bias on q, k, v AND o_proj; mlp_bias on gate, up and down_proj.
- Qwen2: q/k/v biases always, none on o_proj or the MLP.
- Mistral: no biases; every layer slides by sliding_window (MistralConfig default 4096 when the key is
  absent, full attention when it is null).
- Qwen2: the window is sliding_window only if use_sliding_window; layer i slides iff layer_types[i] is
  "sliding_attention", by default iff i >= max_window_layers.
- head_dim (default hidden_size // num_attention_heads): q is [H*head_dim, D], o is [D, H*head_dim],
  RoPE spans head_dim and scores are scaled by head_dim ** -0.5.
- GPT-NeoX: attention_bias (default true) on query_key_value and dense.
"""
import json
import math
import os
import torch

torch.manual_seed(20240611)
DT = torch.float64
NEG = -1e9


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def head_dim_of(cfg):
    return cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]


def biases_of(cfg):
    """(q/k/v bias, o bias, mlp bias) as the transformers class builds its Linear layers."""
    t = cfg["model_type"]
    if t == "llama":
        return bool(cfg.get("attention_bias", False)), bool(cfg.get("attention_bias", False)), bool(cfg.get("mlp_bias", False))
    if t == "qwen2":
        return True, False, False
    return False, False, False


def windows_of(cfg):
    """Sliding window per layer (None = full causal attention)."""
    L = cfg["num_hidden_layers"]
    t = cfg["model_type"]
    if t == "mistral":
        w = cfg["sliding_window"] if "sliding_window" in cfg else 4096
        return [w] * L
    if t == "qwen2":
        w = cfg.get("sliding_window", 4096) if cfg.get("use_sliding_window", False) else None
        types = cfg.get("layer_types") or [
            "sliding_attention" if w is not None and i >= cfg.get("max_window_layers", 28) else "full_attention" for i in range(L)
        ]
        return [w if types[i] == "sliding_attention" else None for i in range(L)]
    return [None] * L


def attention_bias_matrix(T, attention_mask, window):
    q = torch.arange(T)[:, None]
    k = torch.arange(T)[None, :]
    allowed = k <= q
    if window is not None:
        allowed = allowed & (k > q - window)
    allowed = allowed[None, None] & attention_mask.bool()[:, None, None, :]
    return torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(NEG, dtype=DT))


def llama_shapes(cfg):
    D, I, V, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    H = cfg["num_attention_heads"]
    Hkv, hd = cfg.get("num_key_value_heads", H), head_dim_of(cfg)
    qkv_b, o_b, mlp_b = biases_of(cfg)
    s = {"model.embed_tokens.weight": [V, D]}
    for i in range(L):
        p = f"model.layers.{i}"
        s[f"{p}.input_layernorm.weight"] = [D]
        for name, rows in (("q_proj", H * hd), ("k_proj", Hkv * hd), ("v_proj", Hkv * hd)):
            s[f"{p}.self_attn.{name}.weight"] = [rows, D]
            if qkv_b:
                s[f"{p}.self_attn.{name}.bias"] = [rows]
        s[f"{p}.self_attn.o_proj.weight"] = [D, H * hd]
        if o_b:
            s[f"{p}.self_attn.o_proj.bias"] = [D]
        s[f"{p}.post_attention_layernorm.weight"] = [D]
        for name, shape in (("gate_proj", [I, D]), ("up_proj", [I, D]), ("down_proj", [D, I])):
            s[f"{p}.mlp.{name}.weight"] = shape
            if mlp_b:
                s[f"{p}.mlp.{name}.bias"] = [shape[0]]
    s["model.norm.weight"] = [D]
    if not cfg["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, D]
    return s


def lin(x, W, name):
    y = x @ W[name + ".weight"].T
    return y + W[name + ".bias"] if name + ".bias" in W else y


def llama_hidden(cfg, W, input_ids, attention_mask):
    B, T = input_ids.shape
    H = cfg["num_attention_heads"]
    Hkv, hd = cfg.get("num_key_value_heads", H), head_dim_of(cfg)
    eps = cfg["rms_norm_eps"]
    pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=DT) / hd))
    freqs = pos[..., None].to(DT) * inv
    emb = torch.cat((freqs, freqs), -1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    masks = {}
    x = W["model.embed_tokens.weight"][input_ids]
    for i, window in enumerate(windows_of(cfg)):
        if window not in masks:
            masks[window] = attention_bias_matrix(T, attention_mask, window)
        p = f"model.layers.{i}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)
        q = lin(h, W, f"{p}.self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(h, W, f"{p}.self_attn.k_proj").view(B, T, Hkv, hd).transpose(1, 2)
        v = lin(h, W, f"{p}.self_attn.v_proj").view(B, T, Hkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = (q @ k.transpose(-1, -2)) * hd ** -0.5 + masks[window]
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + lin(o, W, f"{p}.self_attn.o_proj")
        h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        x = x + lin(torch.nn.functional.silu(lin(h2, W, f"{p}.mlp.gate_proj")) * lin(h2, W, f"{p}.mlp.up_proj"), W, f"{p}.mlp.down_proj")
    return rms_norm(x, W["model.norm.weight"], eps)


def neox_shapes(cfg):
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    bias = cfg.get("attention_bias", True)
    s = {"gpt_neox.embed_in.weight": [V, D]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}"
        for n in ("input_layernorm", "post_attention_layernorm"):
            s[f"{p}.{n}.weight"] = [D]
            s[f"{p}.{n}.bias"] = [D]
        s[f"{p}.attention.query_key_value.weight"] = [3 * D, D]
        if bias:
            s[f"{p}.attention.query_key_value.bias"] = [3 * D]
        s[f"{p}.attention.dense.weight"] = [D, D]
        if bias:
            s[f"{p}.attention.dense.bias"] = [D]
        s[f"{p}.mlp.dense_h_to_4h.weight"] = [I, D]
        s[f"{p}.mlp.dense_h_to_4h.bias"] = [I]
        s[f"{p}.mlp.dense_4h_to_h.weight"] = [D, I]
        s[f"{p}.mlp.dense_4h_to_h.bias"] = [D]
    s["gpt_neox.final_layer_norm.weight"] = [D]
    s["gpt_neox.final_layer_norm.bias"] = [D]
    s["embed_out.weight"] = [V, D]
    return s


def neox_hidden(cfg, W, input_ids, attention_mask):
    B, T = input_ids.shape
    D, H = cfg["hidden_size"], cfg["num_attention_heads"]
    hd = D // H
    r = int(hd * cfg["rotary_pct"])
    eps = cfg["layer_norm_eps"]
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (D,), W[n + ".weight"], W[n + ".bias"], eps)
    pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    inv = 1.0 / (cfg["rotary_emb_base"] ** (torch.arange(0, r, 2, dtype=DT) / r))
    freqs = pos[..., None].to(DT) * inv
    emb = torch.cat((freqs, freqs), -1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    mask = attention_bias_matrix(T, attention_mask, None)
    x = W["gpt_neox.embed_in.weight"][input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}"
        qkv = lin(ln(x, f"{p}.input_layernorm"), W, f"{p}.attention.query_key_value").view(B, T, H, 3 * hd).permute(0, 2, 1, 3)
        q, k, v = qkv[..., :hd], qkv[..., hd : 2 * hd], qkv[..., 2 * hd :]
        rot = lambda t: torch.cat((t[..., :r] * cos + rotate_half(t[..., :r]) * sin, t[..., r:]), -1)
        q, k = rot(q), rot(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + mask
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        attn = lin(o, W, f"{p}.attention.dense")
        mlp = lin(torch.nn.functional.gelu(lin(ln(x, f"{p}.post_attention_layernorm"), W, f"{p}.mlp.dense_h_to_4h")), W, f"{p}.mlp.dense_4h_to_h")
        x = x + attn + mlp
    return ln(x, "gpt_neox.final_layer_norm")


def make_weights(shapes):
    W = {}
    for n, s in shapes.items():
        if n.endswith("norm.weight") or n.endswith("layernorm.weight") or n.endswith("layer_norm.weight"):
            t = 1 + 0.1 * torch.randn(*s, dtype=DT)
        else:
            t = 0.3 * torch.randn(*s, dtype=DT)
        # Four decimals: the JSON text is then exactly the float64 both sides compute with, and short.
        W[n] = torch.round(t * 1e4).div(1e4).requires_grad_(True)
    return W


def g10(t):
    """Outputs to 10 significant digits: far below the 1e-5 tolerance, a third of the JSON size."""
    return [float("%.10g" % v) for v in t.detach().flatten().tolist()]


def dump(W, shapes):
    return {n: {"shape": shapes[n], "data": W[n].detach().flatten().tolist()} for n in shapes}


B, T = 2, 9
# Row 0 is full; row 1 is left padded by 2, so the window is checked on indices of a shifted run of real tokens.
MASK = torch.tensor([[1] * T, [0, 0] + [1] * (T - 2)])
RIGHT_PADDED = torch.tensor([[1] * T, [1] * (T - 2) + [0, 0]])


def lm_case(name, cfg):
    neox = cfg["model_type"] == "gpt_neox"
    shapes = neox_shapes(cfg) if neox else llama_shapes(cfg)
    W = make_weights(shapes)
    input_ids = torch.randint(0, cfg["vocab_size"], (B, T))
    labels = torch.full((B, T), -100)
    labels[0, 1:8] = input_ids[0, 2:9]
    labels[1, 3:8] = input_ids[1, 4:9]
    hidden = (neox_hidden if neox else llama_hidden)(cfg, W, input_ids, MASK)
    head = W["embed_out.weight"] if neox else (W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"])
    logits = hidden @ head.T
    logp = logits.log_softmax(-1)
    valid = labels != -100
    tok = torch.where(valid, logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0], torch.zeros((), dtype=DT))
    loss = -tok.sum() / valid.sum()
    loss.backward()
    return {
        "name": name, "config": cfg, "input_ids": input_ids.tolist(), "attention_mask": MASK.tolist(), "labels": labels.tolist(),
        "weights": dump(W, shapes), "loss": loss.item(), "token_logprobs": g10(tok),
        "seq_logprobs": g10(tok.sum(-1)), "logits": g10(logits),
        "grads": {n: g10(W[n].grad) for n in shapes},
    }


def reward_case(name, cfg):
    """*ForSequenceClassification (1 label): score.weight on the last real token (right padding); loss = sum c_b r_b."""
    shapes = {n: s for n, s in llama_shapes(cfg).items() if n != "lm_head.weight"}
    shapes["score.weight"] = [1, cfg["hidden_size"]]
    W = make_weights(shapes)
    input_ids = torch.randint(0, cfg["vocab_size"], (B, T))
    hidden = llama_hidden(cfg, W, input_ids, RIGHT_PADDED)
    last = RIGHT_PADDED.sum(-1) - 1
    rewards = (hidden[torch.arange(B), last] @ W["score.weight"].T)[:, 0]
    c = torch.tensor([1.0, -0.5], dtype=DT)
    (rewards * c).sum().backward()
    return {
        "name": name, "kind": "reward", "config": {**cfg, "num_labels": 1, "architectures": [cfg["architectures"][0].replace("CausalLM", "SequenceClassification")]},
        "input_ids": input_ids.tolist(), "attention_mask": RIGHT_PADDED.tolist(), "projection": c.tolist(),
        "weights": dump(W, shapes), "rewards": g10(rewards), "grads": {n: g10(W[n].grad) for n in shapes},
    }


base = {"vocab_size": 37, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64, "tie_word_embeddings": False}
llama = {**base, "architectures": ["LlamaForCausalLM"], "model_type": "llama"}
mistral = {**base, "architectures": ["MistralForCausalLM"], "model_type": "mistral"}
qwen2 = {**base, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2"}
neox = {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": 37, "hidden_size": 16, "intermediate_size": 32,
        "num_hidden_layers": 2, "num_attention_heads": 2, "rotary_pct": 0.25, "rotary_emb_base": 10000, "layer_norm_eps": 1e-5,
        "use_parallel_residual": True, "hidden_act": "gelu", "max_position_embeddings": 64, "tie_word_embeddings": False}

cases = [
    lm_case("llama attention_bias", {**llama, "attention_bias": True}),
    lm_case("llama mlp_bias", {**llama, "mlp_bias": True}),
    lm_case("llama head_dim", {**llama, "head_dim": 6}),
    lm_case("mistral sliding_window", {**mistral, "sliding_window": 3}),
    lm_case("mistral sliding_window null", {**mistral, "sliding_window": None}),
    lm_case("mistral head_dim", {**mistral, "head_dim": 6, "sliding_window": None}),
    lm_case("qwen2 use_sliding_window + max_window_layers", {**qwen2, "use_sliding_window": True, "sliding_window": 3, "max_window_layers": 1}),
    lm_case("qwen2 layer_types", {**qwen2, "use_sliding_window": True, "sliding_window": 4, "layer_types": ["sliding_attention", "full_attention"]}),
    lm_case("qwen2 use_sliding_window false", {**qwen2, "use_sliding_window": False, "sliding_window": 2, "max_window_layers": 0}),
    lm_case("qwen2 head_dim", {**qwen2, "head_dim": 6, "tie_word_embeddings": True}),
    lm_case("gpt_neox attention_bias false", {**neox, "attention_bias": False}),
    reward_case("mistral sliding_window reward model", {**mistral, "sliding_window": 3, "head_dim": 6}),
]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "config_golden.json")
with open(out, "w") as f:
    json.dump({"generator": "make_config_golden.py (torch %s, float64)" % torch.__version__, "cases": cases}, f)
print("wrote", out, os.path.getsize(out), "bytes")
