#!/usr/bin/env python3
"""Reference SFT runs for the job settings of TrainingHyperparameters / SftConfig, from PyTorch.

Each case trains a tiny Llama (float32, the maths of Hugging Face's modeling_llama written out here) for a
few optimizer steps from the same initial weights on the same rows in file order, with the settings the
case names, and records the loss of every step and the final weights. libs/algorithms/test/
settings-golden.test.ts runs juice's runSft with the same settings and compares both.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/algorithms/test/golden/make_settings_golden.py

Semantics restated from PyTorch / Hugging Face (no juice code):
  * torch.optim.AdamW / torch.optim.RMSprop (centered=False) with two param groups: weight decay on every
    tensor except biases and normalisation weights (transformers Trainer.get_decay_parameter_names).
  * torch.nn.utils.clip_grad_norm_(1.0) on the whole gradient before each step.
  * schedules under torch LambdaLR: HF linear / cosine with warmup; the floor min_lr_ratio as HF's
    get_cosine_with_min_lr_schedule_with_warmup (cosine) and min + (1 − min)·(T − s)/(T − W) (linear).
  * loss: token mean over the batch's counted tokens, or (sequence_sum) each row's summed token NLL averaged
    over rows; train_on_prompt counts every token after the first, else only the response's.
  * gradient accumulation: the big batch's loss, computed in one pass (what accumulation must equal).
"""
import json
import math
import os

import torch

from reference_llama import rms_norm, rotate_half, shapes

torch.manual_seed(7)
DT = torch.float32
CFG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 19, "hidden_size": 16, "intermediate_size": 24,
       "num_hidden_layers": 1, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 4, "rms_norm_eps": 1e-6,
       "rope_theta": 10000.0, "max_position_embeddings": 64, "tie_word_embeddings": False}
PAD = 0
# (prompt ids, response ids); token 0 is padding only.
ROWS = [
    ([1, 5, 7], [3, 9, 2]),
    ([1, 4], [8, 8, 11, 12, 2]),
    ([1, 6, 6, 13, 5], [14, 2]),
    ([1, 10], [15, 16, 3, 2]),
    ([1, 17, 4, 9], [18, 7, 2]),
    ([1, 3], [5, 2]),
    ([1, 12, 11], [6, 4, 13, 2]),
    ([1, 8, 15, 16], [10, 2]),
]


def f32list(t):
    """float32 values in 9 significant digits: exact for float32, half the bytes of repr(float64)."""
    return [float("%.9g" % x) for x in t.detach().flatten().tolist()]


def token_logprobs(W, ids, mask, labels):
    cfg = CFG
    B, T = ids.shape
    H, Hkv, hd, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"]
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=DT) / hd))
    emb = torch.cat((pos[..., None].to(DT) * inv,) * 2, -1)[:, None]
    cos, sin = emb.cos(), emb.sin()
    allowed = torch.tril(torch.ones(T, T, dtype=torch.bool))[None, None] & mask.bool()[:, None, None, :]
    bias = torch.where(allowed, torch.tensor(0.0, dtype=DT), torch.tensor(-1e9, dtype=DT))
    x = W["model.embed_tokens.weight"][ids]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)
        proj = lambda n, k: (h @ W[f"{p}.self_attn.{n}.weight"].T).view(B, T, k, hd).transpose(1, 2)
        q, k, v = proj("q_proj", H), proj("k_proj", Hkv), proj("v_proj", Hkv)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = k.repeat_interleave(H // Hkv, dim=1), v.repeat_interleave(H // Hkv, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd) + bias
        x = x + (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, H * hd) @ W[f"{p}.self_attn.o_proj.weight"].T
        h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        x = x + (torch.nn.functional.silu(h2 @ W[f"{p}.mlp.gate_proj.weight"].T) * (h2 @ W[f"{p}.mlp.up_proj.weight"].T)) @ W[f"{p}.mlp.down_proj.weight"].T
    logp = (rms_norm(x, W["model.norm.weight"], eps) @ W["lm_head.weight"].T).log_softmax(-1)
    valid = labels != -100
    return torch.where(valid, logp.gather(-1, labels.clamp(min=0)[..., None])[..., 0], torch.zeros((), dtype=DT)), valid


def collate(rows, train_on_prompt):
    T = max(len(p) + len(r) for p, r in rows)
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    mask = torch.zeros((len(rows), T), dtype=torch.long)
    labels = torch.full((len(rows), T), -100, dtype=torch.long)
    for b, (p, r) in enumerate(rows):
        seq = p + r
        ids[b, : len(seq)] = torch.tensor(seq)
        mask[b, : len(seq)] = 1
        first = 0 if train_on_prompt else len(p) - 1  # position t predicts token t+1
        for t in range(first, len(seq) - 1):
            labels[b, t] = seq[t + 1]
    return ids, mask, labels


def loss_of(W, rows, reduction, train_on_prompt):
    tok, valid = token_logprobs(W, *collate(rows, train_on_prompt))
    if reduction == "sequence_sum":
        return -tok.sum(-1).mean()
    return -tok.sum() / valid.sum()


def no_decay(name):
    return name.endswith("bias") or "norm" in name


def lr_lambda(kind, warm, total, min_ratio):
    def f(s):
        if s < warm:
            return s / max(1, warm)
        if kind == "constant":
            return 1.0
        progress = (s - warm) / max(1, total - warm)
        if kind == "linear":
            return min_ratio + (1 - min_ratio) * max(0.0, (total - s) / max(1, total - warm))
        factor = 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress))
        return max(0.0, factor * (1 - min_ratio) + min_ratio)
    return f


def run(case, W0):
    W = {n: torch.nn.Parameter(t.clone()) for n, t in W0.items()}
    decay = [W[n] for n in W if not no_decay(n)]
    fixed = [W[n] for n in W if no_decay(n)]
    o = case["optimizer"]
    groups = [{"params": decay, "weight_decay": o["weightDecay"]}, {"params": fixed, "weight_decay": 0.0}]
    if o["kind"] == "adamw":
        opt = torch.optim.AdamW(groups, lr=case["lr"], betas=(o["beta1"], o["beta2"]), eps=o["eps"])
    else:
        opt = torch.optim.RMSprop(groups, lr=case["lr"], alpha=o["alpha"], eps=o["eps"], momentum=o["momentum"], centered=False)
    rows_per_step = case["batchSize"] * case.get("accumulation", 1)
    steps = case["steps"]
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(case["schedule"], case["warmupSteps"], steps, case["minLrRatio"]))
    losses, lrs = [], []
    for s in range(steps):
        start = (s * rows_per_step) % len(ROWS)
        rows = ROWS[start : start + rows_per_step]
        opt.zero_grad()
        loss = loss_of(W, rows, case["lossReduction"], case["trainOnPrompt"])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(W.values()), 1.0)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        losses.append(loss.item())
    return {"losses": losses, "lrs": lrs, "weights": {n: f32list(W[n]) for n in W}}


BASE = {"lr": 1e-2, "batchSize": 4, "steps": 4, "schedule": "constant", "warmupSteps": 0, "minLrRatio": 0.0,
        "lossReduction": "token_mean", "trainOnPrompt": False,
        "optimizer": {"kind": "adamw", "beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weightDecay": 0.0}}
CASES = {
    "defaults": {},
    "adamw_beta2_eps_decay": {"optimizer": {"kind": "adamw", "beta1": 0.8, "beta2": 0.95, "eps": 1e-3, "weightDecay": 0.1}},
    "rmsprop_momentum_l2": {"optimizer": {"kind": "rmsprop", "alpha": 0.9, "eps": 1e-3, "momentum": 0.5, "weightDecay": 0.05}, "lr": 3e-3},
    "rmsprop_plain": {"optimizer": {"kind": "rmsprop", "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weightDecay": 0.0}, "lr": 1e-3},
    "sequence_sum": {"lossReduction": "sequence_sum"},
    "train_on_prompt": {"trainOnPrompt": True},
    "accumulation_2x2": {"batchSize": 2, "accumulation": 2},
    "linear_min_lr": {"schedule": "linear", "warmupSteps": 1, "minLrRatio": 0.3},
    "cosine_min_lr": {"schedule": "cosine", "warmupSteps": 1, "minLrRatio": 0.2},
}

W0 = {n: (torch.randn(s, dtype=DT) * 0.3 if "norm" not in n else 1.0 + 0.1 * torch.randn(s, dtype=DT)) for n, s in shapes(CFG).items()}
out = {
    "config": CFG,
    "pad": PAD,
    "rows": [{"prompt": p, "response": r} for p, r in ROWS],
    "initial": {n: f32list(t) for n, t in W0.items()},
    "cases": {name: {"settings": {**BASE, **c}, **run({**BASE, **c}, W0)} for name, c in CASES.items()},
}
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "settings-golden.json"), "w") as f:
    json.dump(out, f)
print("wrote", {k: [round(x, 5) for x in v["losses"]] for k, v in out["cases"].items()})
