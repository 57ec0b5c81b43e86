"""The Llama pieces both loop-golden scripts share (Hugging Face modeling_llama semantics, written out here,
sharing no code with juice): tensor names and shapes, RMSNorm, and RoPE's rotate_half."""
import torch


def shapes(cfg):
    D, I, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"]
    H, Hkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    s = {"model.embed_tokens.weight": [V, D]}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        s[f"{p}.input_layernorm.weight"] = [D]
        s[f"{p}.self_attn.q_proj.weight"] = [H * hd, D]
        s[f"{p}.self_attn.k_proj.weight"] = [Hkv * hd, D]
        s[f"{p}.self_attn.v_proj.weight"] = [Hkv * hd, D]
        s[f"{p}.self_attn.o_proj.weight"] = [D, H * hd]
        s[f"{p}.post_attention_layernorm.weight"] = [D]
        s[f"{p}.mlp.gate_proj.weight"] = [I, D]
        s[f"{p}.mlp.up_proj.weight"] = [I, D]
        s[f"{p}.mlp.down_proj.weight"] = [D, I]
    s["model.norm.weight"] = [D]
    s["lm_head.weight"] = [V, D]
    return s


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)
