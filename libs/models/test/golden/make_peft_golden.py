#!/usr/bin/env python3
"""Golden values for juice's PEFT LoRA adapters, from an independent float64 PyTorch reference.

For each case: a random base model (HF names), LoRA adapter tensors under PEFT's names
(base_model.model.<module>.lora_A.weight [r, in], lora_B.weight [out, r]), the adapter_config.json
PEFT would write, and the logits of the base with the adapter applied by PEFT's merge formula
W' = W + scaling * B @ A, scaling = lora_alpha / r (use_rslora: lora_alpha / sqrt(r)), with PEFT's
target_modules matching (module name == target or endswith "." + target).

juice's test (libs/models/test/peft.test.ts) saves the adapter with savePeftAdapter, loads it back and
compares its logits with these (relative 1e-5).

Regenerate (torch only, no transformers/peft needed):

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/models/test/golden/make_peft_golden.py
"""
import json
import math
import os
import torch

torch.manual_seed(4321)
DT = torch.float64


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_logits(cfg, W, input_ids, attention_mask):
    """HF modeling_llama, written out (RMSNorm, rotate_half RoPE, GQA by repeat, SwiGLU)."""
    B, T = input_ids.shape
    H, Hkv, hd, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"]
    pos = (attention_mask.cumsum(-1) - 1).clamp(min=0)
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=DT) / hd))
    emb = torch.cat((pos[..., None].to(DT) * inv,) * 2, -1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & attention_mask.bool()[:, None, None, :]
    bias = torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(-1e9, dtype=DT))
    x = W["model.embed_tokens.weight"][input_ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)
        q = (h @ W[f"{p}.self_attn.q_proj.weight"].T).view(B, T, H, hd).transpose(1, 2)
        k = (h @ W[f"{p}.self_attn.k_proj.weight"].T).view(B, T, Hkv, hd).transpose(1, 2)
        v = (h @ W[f"{p}.self_attn.v_proj.weight"].T).view(B, T, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // Hkv, 1), v.repeat_interleave(H // Hkv, 1)
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias).softmax(-1)
        x = x + (att @ v).transpose(1, 2).reshape(B, T, H * hd) @ W[f"{p}.self_attn.o_proj.weight"].T
        h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        x = x + (torch.nn.functional.silu(h2 @ W[f"{p}.mlp.gate_proj.weight"].T) * (h2 @ W[f"{p}.mlp.up_proj.weight"].T)) @ W[f"{p}.mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], eps)
    return x @ W["lm_head.weight"].T


def llama_shapes(cfg):
    D, I, V, H, Hkv, hd = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    s = {"model.embed_tokens.weight": [V, D]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        s.update({f"{p}.input_layernorm.weight": [D], f"{p}.self_attn.q_proj.weight": [H * hd, D], f"{p}.self_attn.k_proj.weight": [Hkv * hd, D],
                  f"{p}.self_attn.v_proj.weight": [Hkv * hd, D], f"{p}.self_attn.o_proj.weight": [D, H * hd], f"{p}.post_attention_layernorm.weight": [D],
                  f"{p}.mlp.gate_proj.weight": [I, D], f"{p}.mlp.up_proj.weight": [I, D], f"{p}.mlp.down_proj.weight": [D, I]})
    s["model.norm.weight"] = [D]
    s["lm_head.weight"] = [V, D]
    return s


def targets(shapes, target_modules):
    """PEFT's matching over Linear weights (2-D, not the embedding or lm_head)."""
    out = []
    for n, s in shapes.items():
        if len(s) != 2 or "embed" in n or n == "lm_head.weight":
            continue
        m = n[: -len(".weight")]
        if target_modules == "all-linear" or any(m == t or m.endswith("." + t) for t in target_modules):
            out.append((m, s))
    return out


def merged(W, adapter, tgts, r, alpha, rslora):
    scaling = alpha / math.sqrt(r) if rslora else alpha / r
    M = dict(W)
    for m, _ in tgts:
        A = adapter[f"base_model.model.{m}.lora_A.weight"]
        Bm = adapter[f"base_model.model.{m}.lora_B.weight"]
        M[m + ".weight"] = W[m + ".weight"] + scaling * (Bm @ A)
    return M


def case(name, cfg, r, alpha, target_modules, rslora):
    shapes = llama_shapes(cfg)
    W = {n: (1 + 0.1 * torch.randn(*s, dtype=DT)) if "norm" in n else 0.3 * torch.randn(*s, dtype=DT) for n, s in shapes.items()}
    tgts = targets(shapes, target_modules)
    adapter = {}
    for m, (out, inn) in tgts:
        adapter[f"base_model.model.{m}.lora_A.weight"] = torch.randn(r, inn, dtype=DT) / math.sqrt(inn)
        adapter[f"base_model.model.{m}.lora_B.weight"] = 0.2 * torch.randn(out, r, dtype=DT)
    ids = torch.randint(0, cfg["vocab_size"], (2, 6))
    mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2])
    logits = llama_logits(cfg, merged(W, adapter, tgts, r, alpha, rslora), ids, mask)
    base_logits = llama_logits(cfg, W, ids, mask)
    f32 = lambda t: t.to(torch.float32).to(DT)  # juice stores float32: the reference uses the same rounded values
    return {
        "name": name, "config": cfg,
        "adapter_config": {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "target_modules": target_modules, "use_rslora": rslora, "bias": "none", "task_type": "CAUSAL_LM"},
        "weights": {n: {"shape": shapes[n], "data": W[n].flatten().tolist()} for n in shapes},
        "adapter": {n: {"shape": list(t.shape), "data": t.flatten().tolist()} for n, t in adapter.items()},
        "input_ids": ids.tolist(), "attention_mask": mask.tolist(),
        "logits": logits.flatten().tolist(), "base_logits": base_logits.flatten().tolist(),
    }


if __name__ == "__main__":
    cfg = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 29, "hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 2,
           "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 64,
           "tie_word_embeddings": False}
    cases = [
        case("llama-q-v-down-r4", cfg, 4, 8.0, ["q_proj", "v_proj", "down_proj"], False),
        case("llama-all-linear-rslora-r2", cfg, 2, 3.0, "all-linear", True),
    ]
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "peft_golden.json"), "w") as f:
        json.dump(cases, f)
