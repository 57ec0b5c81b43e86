#!/usr/bin/env python3
"""Reference values for libs/optim from PyTorch (float32, as juice stores state).

Run with Debian's torch:  /usr/bin/python3 libs/optim/test/golden/make_golden.py
Writes golden.json next to this file. Inputs (initial params, per-step grads and lrs) are stored in the
JSON so the TypeScript test feeds bit-identical float32 values.

transformers is not installed here, so the schedule lambdas below restate HF optimization.py's formulas
(get_constant/linear/cosine_schedule_with_warmup, get_cosine_with_min_lr_schedule_with_warmup) and run
them through torch's real LambdaLR so the step indexing is torch's.
"""
import json
import math
import os

import torch

torch.manual_seed(0)
STEPS = 6
W0 = [0.5, -1.25, 0.75, 2.0, -0.3, 0.1]  # tensor "w", shape [2, 3], weight decay on
B0 = [0.05, -0.02, 0.3]  # tensor "b", shape [3], no weight decay


def f32(xs):
    return [float(x) for x in torch.tensor(xs, dtype=torch.float32)]


def grads_at(t):
    gw = [math.sin(0.7 * i + 1.3 * t) * (0.5 + 0.1 * t) for i in range(6)]
    gb = [math.cos(0.9 * i - 0.4 * t) * 0.2 for i in range(3)]
    if t == 2:
        gw[1] = 1e-4  # a tiny gradient exercises the eps path
    return f32(gw), f32(gb)


GRADS = [grads_at(t) for t in range(STEPS)]
LRS = [1e-2, 8e-3, 6e-3, 5e-3, 2e-3, 1e-3]


def run(make_opt):
    w = torch.nn.Parameter(torch.tensor(W0, dtype=torch.float32).reshape(2, 3))
    b = torch.nn.Parameter(torch.tensor(B0, dtype=torch.float32))
    opt = make_opt(w, b)
    trace = []
    for t in range(STEPS):
        for group in opt.param_groups:
            group["lr"] = LRS[t]
        w.grad = torch.tensor(GRADS[t][0], dtype=torch.float32).reshape(2, 3)
        b.grad = torch.tensor(GRADS[t][1], dtype=torch.float32)
        opt.step()
        trace.append({"w": [float(x) for x in w.detach().flatten()], "b": [float(x) for x in b.detach()]})
    return trace


def groups(w, b, wd):
    return [{"params": [w], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}]


cases = {
    "adamw": {
        "options": {"betas": [0.9, 0.999], "eps": 1e-8, "weightDecay": 0.1},
        "trace": run(lambda w, b: torch.optim.AdamW(groups(w, b, 0.1), lr=LRS[0], betas=(0.9, 0.999), eps=1e-8)),
    },
    "adamw_betas": {
        "options": {"betas": [0.8, 0.95], "eps": 1e-6, "weightDecay": 0.3},
        "trace": run(lambda w, b: torch.optim.AdamW(groups(w, b, 0.3), lr=LRS[0], betas=(0.8, 0.95), eps=1e-6)),
    },
    "rmsprop": {
        "options": {"alpha": 0.99, "eps": 1e-8},
        "trace": run(lambda w, b: torch.optim.RMSprop(groups(w, b, 0.0), lr=LRS[0], alpha=0.99, eps=1e-8)),
    },
    "rmsprop_momentum_centered": {
        "options": {"alpha": 0.9, "eps": 1e-6, "momentum": 0.8, "centered": True, "weightDecay": 0.05},
        "trace": run(lambda w, b: torch.optim.RMSprop(groups(w, b, 0.05), lr=LRS[0], alpha=0.9, eps=1e-6, momentum=0.8, centered=True)),
    },
    "sgd_nesterov": {
        "options": {"momentum": 0.9, "nesterov": True, "weightDecay": 0.01},
        "trace": run(lambda w, b: torch.optim.SGD(groups(w, b, 0.01), lr=LRS[0], momentum=0.9, nesterov=True)),
    },
}


def clip_case():
    g = [torch.tensor(GRADS[0][0]), torch.tensor(GRADS[0][1])]
    ps = [torch.nn.Parameter(torch.zeros_like(x)) for x in g]
    for p, x in zip(ps, g):
        p.grad = x.clone()
    norm = torch.nn.utils.clip_grad_norm_(ps, max_norm=0.5)
    return {"maxNorm": 0.5, "norm": float(norm), "clipped": [[float(v) for v in p.grad] for p in ps]}


# --- HF transformers schedule lambdas (restated from optimization.py) ---
def constant_with_warmup(step, warm):
    if step < warm:
        return float(step) / float(max(1.0, warm))
    return 1.0


def linear_with_warmup(step, warm, total):
    if step < warm:
        return float(step) / float(max(1, warm))
    return max(0.0, float(total - step) / float(max(1, total - warm)))


def cosine_with_warmup(step, warm, total, cycles=0.5):
    if step < warm:
        return float(step) / float(max(1, warm))
    progress = float(step - warm) / float(max(1, total - warm))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))


def cosine_with_min_lr(step, warm, total, min_lr_rate, cycles=0.5):
    if step < warm:
        return float(step) / float(max(1, warm))
    progress = float(step - warm) / float(max(1, total - warm))
    factor = 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress))
    factor = factor * (1 - min_lr_rate) + min_lr_rate
    return max(0, factor)


def schedule_trace(fn, base_lr=3e-4, steps=130):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=base_lr)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, fn)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])  # lr used by the next optimiser step
        opt.step()
        sched.step()
    return lrs


schedules = {
    "constant": {"options": {"kind": "constant", "baseLr": 3e-4, "warmupSteps": 10}, "lrs": schedule_trace(lambda s: constant_with_warmup(s, 10))},
    "linear": {"options": {"kind": "linear", "baseLr": 3e-4, "warmupSteps": 10, "totalSteps": 100}, "lrs": schedule_trace(lambda s: linear_with_warmup(s, 10, 100))},
    "cosine": {"options": {"kind": "cosine", "baseLr": 3e-4, "warmupSteps": 10, "totalSteps": 100}, "lrs": schedule_trace(lambda s: cosine_with_warmup(s, 10, 100))},
    "cosine_min_lr": {"options": {"kind": "cosine", "baseLr": 3e-4, "warmupSteps": 7, "totalSteps": 100, "minLrRatio": 0.1}, "lrs": schedule_trace(lambda s: cosine_with_min_lr(s, 7, 100, 0.1))},
    "cosine_no_warmup": {"options": {"kind": "cosine", "baseLr": 1e-3, "totalSteps": 50}, "lrs": schedule_trace(lambda s: cosine_with_warmup(s, 0, 50), base_lr=1e-3)},
}

out = {
    "torch": torch.__version__,
    "w0": f32(W0),
    "b0": f32(B0),
    "grads": [{"w": gw, "b": gb} for gw, gb in GRADS],
    "lrs": LRS,
    "optimizers": cases,
    "clip": clip_case(),
    "schedules": schedules,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden.json")
with open(path, "w") as fh:
    json.dump(out, fh, indent=1)
print("wrote", path)
