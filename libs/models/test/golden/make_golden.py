#!/usr/bin/env python3
"""Golden values for juice's Llama-family graph, from an independent float64 PyTorch implementation.

Writes golden.json: config, weights (HF names), inputs, and the loss, per-token log-probs,
per-sequence sums and the gradient of the loss w.r.t. every weight. juice's test reads the JSON; only
regenerating needs torch:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/models/test/golden/make_golden.py

The maths follows Hugging Face's modeling_llama / modeling_qwen2 (RMSNorm, rotate_half RoPE, GQA via
repeat_kv, SwiGLU), written out here so the reference shares no code with juice.
"""
import json
import math
import os
import torch

torch.manual_seed(1234)
DT = torch.float64


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(cfg, W, input_ids, attention_mask, labels):
    B, T = input_ids.shape
    D, H, Hkv, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=DT) / hd))
    freqs = pos[..., None].to(DT) * inv
    emb = torch.cat((freqs, freqs), -1)[:, None]  # [B,1,T,hd]
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
    bias = torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(-1e9, dtype=DT))
    x = W["model.embed_tokens.weight"][input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)
        def proj(name, n):
            y = h @ W[f"{p}.self_attn.{name}.weight"].T
            if f"{p}.self_attn.{name}.bias" in W:
                y = y + W[f"{p}.self_attn.{name}.bias"]
            return y.view(B, T, n, hd).transpose(1, 2)
        q, k, v = proj("q_proj", H), proj("k_proj", Hkv), proj("v_proj", Hkv)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // Hkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + o @ W[f"{p}.self_attn.o_proj.weight"].T
        h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        gate = h2 @ W[f"{p}.mlp.gate_proj.weight"].T
        up = h2 @ W[f"{p}.mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ W[f"{p}.mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    logits = x @ head.T
    logp = logits.log_softmax(-1)
    valid = labels != -100
    tok = torch.where(valid, logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0], torch.zeros((), dtype=DT))
    loss = -tok.sum() / valid.sum()
    return loss, tok, tok.sum(-1), logits


def neox_forward(cfg, W, input_ids, attention_mask, labels):
    """GPT-NeoX as in HF modeling_gpt_neox: fused per-head [q|k|v], partial rotary, parallel residual."""
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
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    allowed = causal[None, None] & attention_mask.bool()[:, None, None, :]
    bias = torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(-1e9, dtype=DT))
    x = W["gpt_neox.embed_in.weight"][input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}"
        h = ln(x, f"{p}.input_layernorm")
        qkv = (h @ W[f"{p}.attention.query_key_value.weight"].T + W[f"{p}.attention.query_key_value.bias"]).view(B, T, H, 3 * hd).permute(0, 2, 1, 3)
        q, k, v = qkv[..., :hd], qkv[..., hd : 2 * hd], qkv[..., 2 * hd :]
        rot = lambda t: torch.cat((t[..., :r] * cos + rotate_half(t[..., :r]) * sin, t[..., r:]), -1)
        q, k = rot(q), rot(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias
        o = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, D)
        attn = o @ W[f"{p}.attention.dense.weight"].T + W[f"{p}.attention.dense.bias"]
        h2 = ln(x, f"{p}.post_attention_layernorm")
        mid = torch.nn.functional.gelu(h2 @ W[f"{p}.mlp.dense_h_to_4h.weight"].T + W[f"{p}.mlp.dense_h_to_4h.bias"])
        mlp = mid @ W[f"{p}.mlp.dense_4h_to_h.weight"].T + W[f"{p}.mlp.dense_4h_to_h.bias"]
        x = x + attn + mlp
    x = ln(x, "gpt_neox.final_layer_norm")
    logits = x @ W["embed_out.weight"].T
    logp = logits.log_softmax(-1)
    valid = labels != -100
    tok = torch.where(valid, logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0], torch.zeros((), dtype=DT))
    loss = -tok.sum() / valid.sum()
    return loss, tok, tok.sum(-1), logits


def neox_shapes(cfg):
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    shapes = {"gpt_neox.embed_in.weight": [V, D]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"gpt_neox.layers.{i}"
        for n in ("input_layernorm", "post_attention_layernorm"):
            shapes[f"{p}.{n}.weight"] = [D]
            shapes[f"{p}.{n}.bias"] = [D]
        shapes[f"{p}.attention.query_key_value.weight"] = [3 * D, D]
        shapes[f"{p}.attention.query_key_value.bias"] = [3 * D]
        shapes[f"{p}.attention.dense.weight"] = [D, D]
        shapes[f"{p}.attention.dense.bias"] = [D]
        shapes[f"{p}.mlp.dense_h_to_4h.weight"] = [I, D]
        shapes[f"{p}.mlp.dense_h_to_4h.bias"] = [I]
        shapes[f"{p}.mlp.dense_4h_to_h.weight"] = [D, I]
        shapes[f"{p}.mlp.dense_4h_to_h.bias"] = [D]
    shapes["gpt_neox.final_layer_norm.weight"] = [D]
    shapes["gpt_neox.final_layer_norm.bias"] = [D]
    shapes["embed_out.weight"] = [V, D]
    return shapes


def case(name, cfg):
    neox = cfg.get("model_type") == "gpt_neox"
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H = cfg["num_attention_heads"]
    Hkv, hd = cfg.get("num_key_value_heads", H), cfg.get("head_dim", D // H)
    shapes = {"model.embed_tokens.weight": [V, D]}
    for i in range(0 if neox else cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        shapes[f"{p}.input_layernorm.weight"] = [D]
        shapes[f"{p}.self_attn.q_proj.weight"] = [H * hd, D]
        shapes[f"{p}.self_attn.k_proj.weight"] = [Hkv * hd, D]
        shapes[f"{p}.self_attn.v_proj.weight"] = [Hkv * hd, D]
        if cfg.get("model_type") == "qwen2":
            shapes[f"{p}.self_attn.q_proj.bias"] = [H * hd]
            shapes[f"{p}.self_attn.k_proj.bias"] = [Hkv * hd]
            shapes[f"{p}.self_attn.v_proj.bias"] = [Hkv * hd]
        shapes[f"{p}.self_attn.o_proj.weight"] = [D, H * hd]
        shapes[f"{p}.post_attention_layernorm.weight"] = [D]
        shapes[f"{p}.mlp.gate_proj.weight"] = [I, D]
        shapes[f"{p}.mlp.up_proj.weight"] = [I, D]
        shapes[f"{p}.mlp.down_proj.weight"] = [D, I]
    shapes["model.norm.weight"] = [D]
    if not cfg["tie_word_embeddings"]:
        shapes["lm_head.weight"] = [V, D]
    if neox:
        shapes = neox_shapes(cfg)
    W = {}
    for n, s in shapes.items():
        if n.endswith("norm.weight") or n.endswith("layernorm.weight") or n.endswith("layer_norm.weight"):
            t = 1 + 0.1 * torch.randn(*s, dtype=DT)
        else:
            t = 0.3 * torch.randn(*s, dtype=DT)
        W[n] = t.requires_grad_(True)
    B, T = 2, 7
    input_ids = torch.randint(0, V, (B, T))
    attention_mask = torch.tensor([[1] * 7, [1] * 5 + [0] * 2])
    labels = torch.full((B, T), -100)
    labels[0, 2:6] = input_ids[0, 3:7]
    labels[1, 1:4] = input_ids[1, 2:5]
    loss, tok, seq, logits = (neox_forward if neox else forward)(cfg, W, input_ids, attention_mask, labels)
    loss.backward()
    return {
        "name": name,
        "config": cfg,
        "input_ids": input_ids.tolist(),
        "attention_mask": attention_mask.tolist(),
        "labels": labels.tolist(),
        "weights": {n: {"shape": shapes[n], "data": W[n].detach().flatten().tolist()} for n in shapes},
        "loss": loss.item(),
        "token_logprobs": tok.detach().flatten().tolist(),
        "seq_logprobs": seq.detach().tolist(),
        "logits": logits.detach().flatten().tolist(),
        "grads": {n: W[n].grad.flatten().tolist() for n in shapes},
    }


base = {"vocab_size": 37, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 1, "num_attention_heads": 4,
        "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64}
cases = [
    case("llama-gqa-untied", {**base, "architectures": ["LlamaForCausalLM"], "model_type": "llama", "tie_word_embeddings": False}),
    case("qwen2-bias-tied", {**base, "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "tie_word_embeddings": True, "num_hidden_layers": 2}),
    case("mistral-gqa", {**base, "architectures": ["MistralForCausalLM"], "model_type": "mistral", "tie_word_embeddings": False, "sliding_window": 4096}),
    case("gpt-neox-partial-rotary-parallel", {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "vocab_size": 37, "hidden_size": 16,
         "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "rotary_pct": 0.25, "rotary_emb_base": 10000,
         "layer_norm_eps": 1e-5, "use_parallel_residual": True, "hidden_act": "gelu", "max_position_embeddings": 64, "tie_word_embeddings": False}),
]


def reward_case(name, cfg):
    """*ForSequenceClassification (1 label): score.weight on the last real token; loss = Σ c_b·r_b."""
    base_case = case(name, cfg)  # same inputs and backbone weights (draws the same random stream first)
    W = {n: torch.tensor(w["data"], dtype=DT).reshape(w["shape"]).requires_grad_(True) for n, w in base_case["weights"].items() if n != "lm_head.weight"}
    W["score.weight"] = (0.3 * torch.randn(1, cfg["hidden_size"], dtype=DT)).requires_grad_(True)
    input_ids = torch.tensor(base_case["input_ids"])
    attention_mask = torch.tensor(base_case["attention_mask"])
    # Reuse the causal-LM forward up to the final norm: run it with an identity head and read the hidden states.
    head_free = dict(W)
    head_free["lm_head.weight"] = torch.eye(cfg["hidden_size"], dtype=DT)
    labels = torch.full(input_ids.shape, -100)
    labels[:, 0] = 0
    _, _, _, hidden = forward({**cfg, "tie_word_embeddings": False, "vocab_size": cfg["hidden_size"]}, head_free, input_ids, attention_mask, labels)
    last = attention_mask.sum(-1) - 1
    rewards = (hidden[torch.arange(hidden.shape[0]), last] @ W["score.weight"].T)[:, 0]
    c = torch.tensor([1.0, -0.5], dtype=DT)
    (rewards * c).sum().backward()
    shapes = {n: list(t.shape) for n, t in W.items()}
    return {
        "name": name, "config": {**cfg, "architectures": ["LlamaForSequenceClassification"], "num_labels": 1}, "kind": "reward",
        "input_ids": base_case["input_ids"], "attention_mask": base_case["attention_mask"], "projection": c.tolist(),
        "weights": {n: {"shape": shapes[n], "data": W[n].detach().flatten().tolist()} for n in W},
        "rewards": rewards.detach().tolist(),
        "grads": {n: W[n].grad.flatten().tolist() for n in W},
    }


cases.append(reward_case("llama-reward-model", {**base, "architectures": ["LlamaForCausalLM"], "model_type": "llama", "tie_word_embeddings": False}))
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
with open(out, "w") as f:
    json.dump({"generator": "make_golden.py (torch %s, float64)" % torch.__version__, "cases": cases}, f)
print("wrote", out)
