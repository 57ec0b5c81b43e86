#!/usr/bin/env python3
"""Golden weights for juice's pairwise loop (DPO, IRFT stages), step by step, from an independent PyTorch run.

Writes pairwise_golden.json, read by libs/algorithms/test/pairwise-parity.test.ts:
  * log_sigmoid: torch.nn.functional.logsigmoid and its derivative at u = 0, tiny, moderate and huge |u|,
    in float64 and float32;
  * dpo: a tiny Llama trained by DPO (frozen reference = the initial weights) for several AdamW steps;
  * irft: two IRFT stages (reference = the stage's starting weights, demonstration vs a sampled response,
    plus the SFT term), the optimizer carried over from stage 1 to stage 2, and ONE learning-rate schedule
    spanning both stages (trainer.proto: for IRFT the schedule spans the whole job), so stage 2 continues
    the decay where stage 1 left it.
The weights after every optimizer step are recorded. Regenerate with:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/algorithms/test/golden/make_pairwise_golden.py

Everything is written from the algorithm definitions and Hugging Face / PyTorch semantics, sharing no code
with juice:
  log π(y|x) = Σ_k log p(y_k | x, y_<k) over the response tokens (each sequence run on its own, no padding);
  u = β[(log π − log π_ref)(chosen) − (log π − log π_ref)(rejected)];  loss = mean over the batch's pairs of
  −log σ(u), plus α · (Σ −log p of the chosen responses' tokens / their number) for IRFT's SFT term;
  torch.nn.utils.clip_grad_norm_ then torch.optim.AdamW, lr per step from HF's schedule formulas
  (constant, linear, cosine; no warm-up here); batches are the pairs in order, an epoch's last batch
  smaller when the batch size does not divide the pair count (no shuffling).
The reference runs in float64; a float32 run of the same script is printed (not stored) as the noise
floor a float32 trainer can reach.
"""
import json
import math
import os
import torch

from reference_llama import rms_norm, rotate_half, shapes

CFG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 16, "hidden_size": 16,
       "intermediate_size": 24, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
       "head_dim": 4, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "max_position_embeddings": 32,
       "tie_word_embeddings": False}


def is_norm(name):
    return name.endswith("norm.weight")


def token_logprobs(cfg, W, ids):
    """log p(ids[t+1] | ids[:t+1]) for t = 0..L-2 of one unpadded sequence (HF LlamaForCausalLM maths)."""
    dt = W["lm_head.weight"].dtype
    L = len(ids)
    H, Hkv, hd, eps = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"], cfg["rms_norm_eps"]
    inv = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    freqs = torch.arange(L, dtype=torch.float64)[:, None] * inv
    emb = torch.cat((freqs, freqs), -1).to(dt)
    cos, sin = emb.cos(), emb.sin()
    causal = torch.tril(torch.ones(L, L, dtype=torch.bool))
    x = W["model.embed_tokens.weight"][torch.tensor(ids)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        h = rms_norm(x, W[f"{p}.input_layernorm.weight"], eps)
        q = (h @ W[f"{p}.self_attn.q_proj.weight"].T).view(L, H, hd).transpose(0, 1)
        k = (h @ W[f"{p}.self_attn.k_proj.weight"].T).view(L, Hkv, hd).transpose(0, 1)
        v = (h @ W[f"{p}.self_attn.v_proj.weight"].T).view(L, Hkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=0)
        v = v.repeat_interleave(H // Hkv, dim=0)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        x = x + (att @ v).transpose(0, 1).reshape(L, H * hd) @ W[f"{p}.self_attn.o_proj.weight"].T
        h2 = rms_norm(x, W[f"{p}.post_attention_layernorm.weight"], eps)
        gate = h2 @ W[f"{p}.mlp.gate_proj.weight"].T
        up = h2 @ W[f"{p}.mlp.up_proj.weight"].T
        x = x + (torch.nn.functional.silu(gate) * up) @ W[f"{p}.mlp.down_proj.weight"].T
    logits = rms_norm(x, W["model.norm.weight"], eps) @ W["lm_head.weight"].T
    logp = logits.log_softmax(-1)
    return logp[:-1].gather(-1, torch.tensor(ids[1:])[:, None])[:, 0]


def response_logprobs(cfg, W, example):
    """Per-token log-probs of the response given the prompt."""
    prompt, response = example
    tok = token_logprobs(cfg, W, prompt + response)
    return tok[len(prompt) - 1:]


def lr_factor(kind, step, total):
    """HF get_{constant,linear,cosine}_schedule_with_warmup with 0 warm-up steps: lr of 0-based step `step`."""
    if kind == "constant":
        return 1.0
    if kind == "linear":
        return max(0.0, (total - step) / max(1, total))
    progress = step / max(1, total)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * 0.5 * 2.0 * progress)))


def batches(n_pairs, batch_size, steps):
    """Pairs in order, epoch after epoch; an epoch's last batch holds what is left."""
    out, at = [], 0
    for _ in range(steps):
        if at >= n_pairs:
            at = 0
        out.append(list(range(at, min(n_pairs, at + batch_size))))
        at = min(n_pairs, at + batch_size)
    return out


def pair_loss(cfg, W, ref_W, pairs, beta, sft_alpha):
    """Mean over pairs of −log σ(u), plus α · token-mean NLL of the chosen responses."""
    us, nll_sum, nll_count = [], 0.0, 0
    for chosen, rejected in pairs:
        lc, lr = response_logprobs(cfg, W, chosen), response_logprobs(cfg, W, rejected)
        with torch.no_grad():
            rc, rr = response_logprobs(cfg, ref_W, chosen).sum(), response_logprobs(cfg, ref_W, rejected).sum()
        us.append(beta * ((lc.sum() - rc) - (lr.sum() - rr)))
        nll_sum = nll_sum - lc.sum()
        nll_count += lc.numel()
    loss = -torch.nn.functional.logsigmoid(torch.stack(us)).mean()
    if sft_alpha > 0:
        loss = loss + sft_alpha * nll_sum / max(1, nll_count)
    return loss


def train(cfg, W, optimizer, ref_W, pairs, o, record, schedule_start=0, schedule_steps=None):
    """One runPairwise call: o = beta, batch_size, steps, lr, schedule, max_grad_norm, sft_alpha. The call's
    step s has the lr of step schedule_start + s of a schedule over schedule_steps (default: this call's)."""
    total = schedule_steps or o["steps"]
    names = list(W)
    for s, rows in enumerate(batches(len(pairs), o["batch_size"], o["steps"])):
        loss = pair_loss(cfg, W, ref_W, [pairs[i] for i in rows], o["beta"], o["sft_alpha"])
        optimizer.zero_grad()
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_([W[n] for n in names], o["max_grad_norm"])
        for group in optimizer.param_groups:
            group["lr"] = o["lr"] * lr_factor(o["schedule"], schedule_start + s, total)
        optimizer.step()
        record.append({"rows": rows, "loss": loss.item(), "grad_norm": norm.item(),
                       "weights": {n: W[n].detach().flatten().tolist() for n in names}})


def ex(prompt, response):
    return (prompt, response)


# DPO: preference pairs sharing a prompt; 5 pairs in batches of 2 → the epoch's third batch has one pair.
DPO_PAIRS = [
    (ex([1, 4, 5], [6, 7, 2]), ex([1, 4, 5], [9, 2])),
    (ex([1, 8], [3, 3, 10, 11, 2]), ex([1, 8], [12, 13, 14, 2])),
    (ex([1, 9, 9, 9], [5, 2]), ex([1, 9, 9, 9], [2])),
    (ex([1, 6, 2, 7], [7, 6, 2]), ex([1, 6, 2, 7], [6, 7, 11, 2])),
    (ex([1, 13], [13, 13, 2]), ex([1, 13], [3, 2])),
]
DPO = {"beta": 0.5, "batch_size": 2, "steps": 6, "lr": 1e-2, "schedule": "cosine", "max_grad_norm": 16.0, "sft_alpha": 0.0,
       "weight_decay": 0.0, "betas": [0.9, 0.999], "eps": 1e-8}

# IRFT: demonstration (chosen) vs a response sampled from the stage's starting policy (rejected; fixed
# here, the generator is not part of the loop). Stage 2's reference is the weights stage 1 ended with.
IRFT_STAGES = [
    [(ex([1, 4, 5], [4, 5, 2]), ex([1, 4, 5], [5, 5, 5, 2])),
     (ex([1, 7, 3], [3, 7, 2]), ex([1, 7, 3], [7, 2])),
     (ex([1, 10, 11, 12], [12, 11, 10, 2]), ex([1, 10, 11, 12], [10, 10, 2])),
     (ex([1, 8, 8], [8, 2]), ex([1, 8, 8], [14, 3, 2]))],
    [(ex([1, 5, 6], [6, 5, 2]), ex([1, 5, 6], [5, 6, 2])),
     (ex([1, 9], [9, 9, 2]), ex([1, 9], [2])),
     (ex([1, 3, 12, 4], [4, 12, 3, 2]), ex([1, 3, 12, 4], [12, 12, 2]))],
]
IRFT = {"beta": 1.0, "batch_size": 2, "steps": 3, "lr": 2e-2, "schedule": "linear", "max_grad_norm": 1.0, "sft_alpha": 0.5,
        "weight_decay": 0.05, "betas": [0.9, 0.95], "eps": 1e-8}


def initial_weights(dt):
    torch.manual_seed(20240611)
    W = {}
    for n, s in shapes(CFG).items():
        t = 1 + 0.1 * torch.randn(*s, dtype=torch.float64) if is_norm(n) else 0.3 * torch.randn(*s, dtype=torch.float64)
        W[n] = t.to(dt).requires_grad_(True)
    return W


def adamw(W, o):
    # Norm weights get no weight decay (HF Trainer's rule); with weight_decay 0 the groups are identical.
    decay = [t for n, t in W.items() if not is_norm(n)]
    no_decay = [t for n, t in W.items() if is_norm(n)]
    return torch.optim.AdamW([{"params": decay, "weight_decay": o["weight_decay"]}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"])


def frozen(W):
    return {n: t.detach().clone() for n, t in W.items()}


def run(dt):
    W = initial_weights(dt)
    init = {n: t.detach().flatten().tolist() for n, t in W.items()}
    dpo = []
    train(CFG, W, adamw(W, DPO), frozen(W), DPO_PAIRS, DPO, dpo)

    W = initial_weights(dt)
    opt = adamw(W, IRFT)
    irft = []
    for i, stage in enumerate(IRFT_STAGES):
        records = []
        train(CFG, W, opt, frozen(W), stage, IRFT, records, i * IRFT["steps"], len(IRFT_STAGES) * IRFT["steps"])
        irft.append(records)
    return init, dpo, irft


def rel_err(a, b):
    return max(abs(x - y) for x, y in zip(a, b)) / (max(abs(y) for y in b) or 1.0)


def log_sigmoid_points():
    us = [0.0, 1e-6, -1e-6, 0.5, -0.5, 3.0, -3.0, 20.0, -20.0, 40.0, -40.0, 100.0, -100.0, 1e4, -1e4]
    out = {"u": us}
    for name, dt in (("float64", torch.float64), ("float32", torch.float32)):
        u = torch.tensor(us, dtype=dt, requires_grad=True)
        y = torch.nn.functional.logsigmoid(u)
        y.sum().backward()
        out[name] = {"value": y.detach().tolist(), "grad": u.grad.tolist()}
    return out


def rounded(x):
    return float("%.12g" % x)


if __name__ == "__main__":
    init, dpo, irft = run(torch.float64)
    _, dpo32, irft32 = run(torch.float32)
    for what, a, b in (("dpo", dpo, dpo32), ("irft", [r for s in irft for r in s], [r for s in irft32 for r in s])):
        errs = [max(rel_err(x["weights"][n], y["weights"][n]) for n in x["weights"]) for x, y in zip(b, a)]
        print(what, "torch float32 vs float64, worst relErr per step:", " ".join("%.1e" % e for e in errs))
        print(what, "loss per step:", " ".join("%.6f" % r["loss"] for r in a), "| grad norm:", " ".join("%.3f" % r["grad_norm"] for r in a))
    for records in [dpo] + irft:
        for r in records:
            r["weights"] = {n: [rounded(v) for v in w] for n, w in r["weights"].items()}
    doc = {
        "generator": "make_pairwise_golden.py (torch %s, float64)" % torch.__version__,
        "config": CFG,
        "shapes": shapes(CFG),
        "initial": init,
        "log_sigmoid": log_sigmoid_points(),
        "dpo": {"options": DPO, "pairs": DPO_PAIRS, "steps": dpo},
        "irft": {"options": IRFT, "stages": [{"pairs": p, "steps": r} for p, r in zip(IRFT_STAGES, irft)]},
    }
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pairwise_golden.json")
    with open(out, "w") as f:
        json.dump(doc, f)
    print("wrote", out, os.path.getsize(out), "bytes")
