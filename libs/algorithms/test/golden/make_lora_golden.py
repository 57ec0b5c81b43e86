#!/usr/bin/env python3
"""Golden LoRA adapter weights for juice's SFT and DPO loops, step by step, from an independent PyTorch run.

Writes lora_golden.json, read by libs/algorithms/test/lora-parity.test.ts. Regenerate with:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/algorithms/test/golden/make_lora_golden.py

PEFT's LoRA semantics, written out here (sharing no code with juice): a target Linear y = x·Wᵀ becomes
y = x·Wᵀ + scaling·(x·Aᵀ)·Bᵀ with lora_A [r, in], lora_B [out, r], scaling = α/r (use_rslora: α/√r); the base
weights are frozen (requires_grad False), only A and B train. Mathematically x·(W + scaling·B·A)ᵀ, which is
how the forward is computed here (the Llama maths of make_pairwise_golden.py on the effective weights).
  * sft: token-mean NLL of the response tokens over the batch (prompt masked), AdamW with weight decay on
    A and B (HF Trainer decays every non-bias, non-norm parameter), clip_grad_norm_ over the adapters;
  * dpo: −log σ(β[(log π − log π_ref)(chosen) − (…)(rejected)]), π_ref = the base with the adapters off.
Adapters start from seeded random A AND B (PEFT starts B at 0; a non-zero B makes both factors move from the
first step, the stronger check). The weights of every adapter tensor after every optimizer step are recorded.
"""
import json
import math
import os
import torch

from make_pairwise_golden import CFG, DPO_PAIRS, batches, initial_weights, lr_factor, response_logprobs
from reference_llama import shapes

SFT_ROWS = [
    ([1, 4, 5], [6, 7, 2]),
    ([1, 8], [3, 3, 10, 11, 2]),
    ([1, 9, 9, 9], [5, 2]),
    ([1, 6, 2, 7], [7, 6, 2]),
    ([1, 13], [13, 13, 2]),
]
SFT = {"lora": {"rank": 2, "alpha": 8.0, "target_modules": ["q_proj", "v_proj", "down_proj"], "use_rslora": False},
       "batch_size": 2, "steps": 6, "lr": 2e-2, "schedule": "linear", "max_grad_norm": 1.0, "weight_decay": 0.01,
       "betas": [0.9, 0.999], "eps": 1e-8}
DPO = {"lora": {"rank": 4, "alpha": 2.0, "target_modules": ["k_proj", "o_proj", "gate_proj", "up_proj"], "use_rslora": True},
       "beta": 0.5, "batch_size": 2, "steps": 6, "lr": 2e-2, "schedule": "cosine", "max_grad_norm": 4.0, "weight_decay": 0.0,
       "betas": [0.9, 0.999], "eps": 1e-8}


def scaling(l):
    return l["alpha"] / math.sqrt(l["rank"]) if l["use_rslora"] else l["alpha"] / l["rank"]


def adapter_shapes(l):
    out = {}
    for name, (o, i) in ((n, s) for n, s in shapes(CFG).items() if len(s) == 2):
        module = name[: -len(".weight")]
        if any(module == t or module.endswith("." + t) for t in l["target_modules"]):
            out[f"base_model.model.{module}.lora_A.weight"] = [l["rank"], i]
            out[f"base_model.model.{module}.lora_B.weight"] = [o, l["rank"]]
    return out


def initial_adapters(l, seed):
    torch.manual_seed(seed)
    return {n: (0.2 * torch.randn(*s, dtype=torch.float64)).requires_grad_(True) for n, s in adapter_shapes(l).items()}


def effective(base, adapters, l, enabled=True):
    """The weights the adapted Linears compute with: W + scaling·B·A (the base alone when disabled)."""
    W = dict(base)
    if not enabled:
        return W
    s = scaling(l)
    for n in adapters:
        if ".lora_A." not in n:
            continue
        module = n[len("base_model.model."): -len(".lora_A.weight")]
        W[f"{module}.weight"] = W[f"{module}.weight"] + s * (adapters[n.replace("lora_A", "lora_B")] @ adapters[n])
    return W


def step(adapters, opt, loss, o, k, record):
    opt.zero_grad()
    loss.backward()
    names = list(adapters)
    norm = torch.nn.utils.clip_grad_norm_([adapters[n] for n in names], o["max_grad_norm"])
    for g in opt.param_groups:
        g["lr"] = o["lr"] * lr_factor(o["schedule"], k, o["steps"])
    opt.step()
    record.append({"loss": loss.item(), "grad_norm": norm.item(), "adapters": {n: adapters[n].detach().flatten().tolist() for n in names}})


def run_sft(base, o):
    adapters = initial_adapters(o["lora"], 7)
    init = {n: t.detach().flatten().tolist() for n, t in adapters.items()}
    opt = torch.optim.AdamW(list(adapters.values()), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
    record = []
    for k, rows in enumerate(batches(len(SFT_ROWS), o["batch_size"], o["steps"])):
        W = effective(base, adapters, o["lora"])
        lps = [response_logprobs(CFG, W, SFT_ROWS[i]) for i in rows]
        loss = -torch.cat(lps).sum() / sum(lp.numel() for lp in lps)
        step(adapters, opt, loss, o, k, record)
    return init, record


def run_dpo(base, o):
    adapters = initial_adapters(o["lora"], 11)
    init = {n: t.detach().flatten().tolist() for n, t in adapters.items()}
    opt = torch.optim.AdamW(list(adapters.values()), lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"])
    record = []
    for k, rows in enumerate(batches(len(DPO_PAIRS), o["batch_size"], o["steps"])):
        W = effective(base, adapters, o["lora"])
        us = []
        for i in rows:
            chosen, rejected = DPO_PAIRS[i]
            with torch.no_grad():
                rc, rr = response_logprobs(CFG, base, chosen).sum(), response_logprobs(CFG, base, rejected).sum()
            us.append(o["beta"] * ((response_logprobs(CFG, W, chosen).sum() - rc) - (response_logprobs(CFG, W, rejected).sum() - rr)))
        loss = -torch.nn.functional.logsigmoid(torch.stack(us)).mean()
        step(adapters, opt, loss, o, k, record)
    return init, record


def rounded(x):
    return float("%.12g" % x)


if __name__ == "__main__":
    base = {n: t.detach() for n, t in initial_weights(torch.float64).items()}
    doc = {"generator": "make_lora_golden.py (torch %s, float64)" % torch.__version__, "config": CFG, "shapes": shapes(CFG),
           "base": {n: [rounded(v) for v in t.flatten().tolist()] for n, t in base.items()}}
    for name, fn, o, rows in (("sft", run_sft, SFT, SFT_ROWS), ("dpo", run_dpo, DPO, DPO_PAIRS)):
        init, record = fn(base, o)
        print(name, "loss per step:", " ".join("%.6f" % r["loss"] for r in record), "| grad norm:", " ".join("%.3f" % r["grad_norm"] for r in record))
        for r in record:
            r["adapters"] = {n: [rounded(v) for v in w] for n, w in r["adapters"].items()}
        doc[name] = {"options": o, "rows": rows, "shapes": adapter_shapes(o["lora"]), "initial": init, "steps": record}
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lora_golden.json")
    with open(out, "w") as f:
        json.dump(doc, f)
    print("wrote", out, os.path.getsize(out), "bytes")
