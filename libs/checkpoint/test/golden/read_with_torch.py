#!/usr/bin/env python3
"""Reads a safetensors file with a tiny independent reader (struct + json + torch.frombuffer) and prints
{name: {"dtype", "shape", "sum", "first"}} as JSON, so juice's test can check that PyTorch sees the
same tensors, by the same names, that juice wrote. Usage: read_with_torch.py FILE"""
import json
import struct
import sys
import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64, "I64": torch.int64}
path = sys.argv[1]
with open(path, "rb") as f:
    raw = f.read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8 : 8 + n])
data = raw[8 + n :]
out = {}
for name, e in header.items():
    if name == "__metadata__":
        continue
    s, t = e["data_offsets"]
    x = torch.frombuffer(bytearray(data[s:t]), dtype=DT[e["dtype"]]).reshape(e["shape"]).to(torch.float64)
    out[name] = {"dtype": e["dtype"], "shape": e["shape"], "sum": x.sum().item(), "first": x.flatten()[:4].tolist()}
print(json.dumps(out))
