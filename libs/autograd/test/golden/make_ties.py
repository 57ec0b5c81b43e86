#!/usr/bin/env python3
"""Golden gradients at non-smooth points (ties, zeros, bounds) from PyTorch autograd, float64.

Writes ties.json, read by libs/autograd/test/rules-ties.test.ts. Each case names the torch function
that defines the expected convention, its inputs and a projection p; the gradient is that of
loss = sum(out * p) w.r.t. every input marked "grad". Non-finite numbers are written as the strings
"inf", "-inf", "nan" (JSON has no literal for them). Regenerate with:

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE /usr/bin/python3 libs/autograd/test/golden/make_ties.py

Only torch's own operators are used here: the reference shares no code with juice.
"""
import json
import math
import os
import torch

DT = torch.float64


def enc(values):
    out = []
    for v in values:
        if math.isnan(v):
            out.append("nan")
        elif math.isinf(v):
            out.append("inf" if v > 0 else "-inf")
        else:
            out.append(v)
    return out


def case(name, torch_fn, inputs, grad_names, projection):
    """inputs: name -> nested list; the tensors in grad_names require grad."""
    ts = {n: torch.tensor(v, dtype=DT, requires_grad=n in grad_names) for n, v in inputs.items()}
    out = torch_fn(ts)
    p = torch.tensor(projection, dtype=DT).reshape(out.shape)
    (out * p).sum().backward()
    return {
        "name": name,
        "reference": torch_fn.__doc__.strip(),
        "inputs": {n: {"shape": list(t.shape), "data": enc(t.detach().flatten().tolist())} for n, t in ts.items()},
        "grad": list(grad_names),
        "projection": enc(p.flatten().tolist()),
        "output": enc(out.detach().flatten().tolist()),
        "grads": {n: enc(ts[n].grad.flatten().tolist()) for n in grad_names},
    }


def proj(n, seed):
    g = torch.Generator().manual_seed(seed)
    # Away from 0 and distinct, so a gradient sent to the wrong element or halved shows.
    return (0.5 + torch.rand(n, generator=g, dtype=DT)).mul(torch.tensor([1.0, -1.0], dtype=DT).repeat((n + 1) // 2)[:n]).tolist()


def f_maximum(t):
    """torch.maximum(a, b) (b broadcast)"""
    return torch.maximum(t["a"], t["b"])


def f_minimum(t):
    """torch.minimum(a, b) (b broadcast)"""
    return torch.minimum(t["a"], t["b"])


def f_max3(t):
    """ONNX Max(a, b, c) as torch.amax of the broadcast inputs stacked: ties split evenly"""
    a, b, c = torch.broadcast_tensors(t["a"], t["b"], t["c"])
    return torch.stack([a, b, c]).amax(0)


def f_min3(t):
    """ONNX Min(a, b, c) as torch.amin of the broadcast inputs stacked: ties split evenly"""
    a, b, c = torch.broadcast_tensors(t["a"], t["b"], t["c"])
    return torch.stack([a, b, c]).amin(0)


def f_amax_axis1(t):
    """torch.amax(x, dim=1, keepdim=False)"""
    return torch.amax(t["x"], dim=1)


def f_amax_all(t):
    """torch.amax(x) over all axes"""
    return torch.amax(t["x"]).reshape(1)


def f_amin_axis0_keep(t):
    """torch.amin(x, dim=0, keepdim=True)"""
    return torch.amin(t["x"], dim=0, keepdim=True)


def f_relu(t):
    """torch.relu(x)"""
    return torch.relu(t["x"])


def f_abs(t):
    """torch.abs(x)"""
    return torch.abs(t["x"])


def f_clamp_const(t):
    """torch.clamp(x, min=-0.5, max=0.5)"""
    return torch.clamp(t["x"], min=-0.5, max=0.5)


def f_clamp_min_only(t):
    """torch.clamp(x, min=0.25)"""
    return torch.clamp(t["x"], min=0.25)


def f_clamp_tensor(t):
    """torch.clamp(x, min=lo, max=hi) with 0-d tensor bounds"""
    return torch.clamp(t["x"], min=t["lo"], max=t["hi"])


def f_clamp_crossed(t):
    """torch.clamp(x, min=lo, max=hi) with lo > hi (the output is hi everywhere)"""
    return torch.clamp(t["x"], min=t["lo"], max=t["hi"])


def f_pow_consts(t):
    """x**0 + x**2 + x**3 + x**0.5 (torch.pow with Python-number exponents)"""
    x = t["x"]
    return torch.pow(x, 0.0) + torch.pow(x, 2.0) + torch.pow(x, 3.0) + torch.pow(x, 0.5)


def f_pow_tensor(t):
    """torch.pow(a, b) with a tensor exponent (zero bases, zero exponents)"""
    return torch.pow(t["a"], t["b"])


def f_sqrt(t):
    """torch.sqrt(x)"""
    return torch.sqrt(t["x"])


a23 = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]]
cases = [
    case("Max(a, b) with ties", f_maximum, {"a": a23, "b": [0.0, -2.0, 0.5]}, ["a", "b"], proj(6, 1)),
    case("Min(a, b) with ties", f_minimum, {"a": a23, "b": [1.0, 3.0, -1.0]}, ["a", "b"], proj(6, 2)),
    case("Max(a, b, c) with 2- and 3-way ties", f_max3,
         {"a": [[1.0, 2.0, 0.0, 5.0]], "b": [[1.0, 2.0, -1.0, 4.0]], "c": [1.0, 0.0, 0.0, 5.0]}, ["a", "b", "c"], proj(4, 3)),
    case("Min(a, b, c) with 2- and 3-way ties", f_min3,
         {"a": [[1.0, 2.0, 0.0, 5.0]], "b": [[1.0, 2.0, -1.0, 4.0]], "c": [1.0, 3.0, -1.0, 5.0]}, ["a", "b", "c"], proj(4, 4)),
    case("ReduceMax axis 1 with tied maxima", f_amax_axis1, {"x": [[2.0, 1.0, 2.0, 2.0], [0.0, -1.0, 0.5, 0.0]]}, ["x"], proj(2, 5)),
    case("ReduceMax over all axes with tied maxima", f_amax_all, {"x": [[3.0, 1.0], [3.0, -3.0]]}, ["x"], proj(1, 6)),
    case("ReduceMin axis 0 keepdims with tied minima", f_amin_axis0_keep, {"x": [[-1.0, 2.0, 0.0], [-1.0, 1.0, 0.0], [4.0, 1.0, 0.0]]}, ["x"], proj(3, 7)),
    case("Relu at 0", f_relu, {"x": [-1.0, 0.0, -0.0, 1e-300, 2.0]}, ["x"], proj(5, 8)),
    case("Abs at 0", f_abs, {"x": [-1.0, 0.0, -0.0, 1e-300, 2.0]}, ["x"], proj(5, 9)),
    case("Clip on its constant bounds", f_clamp_const, {"x": [-1.0, -0.5, 0.0, 0.5, 0.75]}, ["x"], proj(5, 10)),
    case("Clip with min only, on the bound", f_clamp_min_only, {"x": [0.0, 0.25, 1.0]}, ["x"], proj(3, 11)),
    case("Clip with tensor bounds: gradients of x, min and max", f_clamp_tensor,
         {"x": [-1.0, -0.5, 0.0, 0.5, 0.75, 2.0], "lo": -0.5, "hi": 0.5}, ["x", "lo", "hi"], proj(6, 12)),
    case("Clip with min > max", f_clamp_crossed, {"x": [-1.0, 0.0, 0.3, 1.0], "lo": 0.5, "hi": 0.2}, ["x", "lo", "hi"], proj(4, 13)),
    case("Pow with constant exponents 0, 2, 3, 0.5 at base 0", f_pow_consts, {"x": [0.0, 0.25, 2.0]}, ["x"], proj(3, 14)),
    case("Pow with a tensor exponent at base 0 and exponent 0", f_pow_tensor,
         {"a": [0.0, 0.0, 0.0, 2.0, 0.5], "b": [0.0, 1.5, 2.0, 0.0, 3.0]}, ["a", "b"], proj(5, 15)),
    case("Sqrt at 0", f_sqrt, {"x": [0.0, 0.25, 4.0]}, ["x"], proj(3, 16)),
]

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ties.json")
with open(out, "w") as f:
    json.dump({"generator": "make_ties.py (torch %s, float64)" % torch.__version__, "cases": cases}, f, indent=1)
print("wrote", out)
