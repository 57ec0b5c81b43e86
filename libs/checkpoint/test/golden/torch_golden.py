#!/usr/bin/env python3
"""Independent PyTorch side of juice's safetensors interop test. A tiny hand-written safetensors reader
and writer (struct + json + torch.frombuffer), so the check depends on neither juice nor the safetensors
package. Prints JSON on stdout.

  torch_golden.py read DIR        tensors of a HF model directory (single file or index + shards):
                                  {name: {"dtype", "shape", "file", "values": [float or "nan"/"inf"/"-inf"]}}
  torch_golden.py convert BITS    BITS is a file of little-endian uint32 float32 patterns; prints
                                  {"f16": [...], "bf16": [...]} as torch's .to(float16/bfloat16) bit patterns
  torch_golden.py write FILE      writes a safetensors file with torch tensors of several dtypes and prints
                                  {name: {"dtype", "shape", "values"}} of what it wrote
"""
import json
import os
import struct
import sys

import torch

DT = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
      "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool}
NAME = {v: k for k, v in DT.items()}


def as_json(x):
    out = []
    for v in x.flatten().tolist():
        if isinstance(v, float) and v != v:
            out.append("nan")
        elif v == float("inf"):
            out.append("inf")
        elif v == float("-inf"):
            out.append("-inf")
        else:
            out.append(v)
    return out


def read_file(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        s, t = e["data_offsets"]
        x = torch.frombuffer(bytearray(data[s:t]), dtype=DT[e["dtype"]]) if t > s else torch.empty(0, dtype=DT[e["dtype"]])
        x = x.reshape(e["shape"])
        y = x.to(torch.float64) if x.is_floating_point() else x.to(torch.int64)
        out[name] = {"dtype": e["dtype"], "shape": e["shape"], "file": os.path.basename(path), "values": as_json(y)}
    return out


def read_dir(d):
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    out = {}
    for name in files:
        out.update(read_file(os.path.join(d, name)))
    return out


def convert(path):
    with open(path, "rb") as f:
        bits = torch.frombuffer(bytearray(f.read()), dtype=torch.int32)
    x = bits.view(torch.float32)
    f16 = (x.to(torch.float16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist()
    bf16 = (x.to(torch.bfloat16).view(torch.int16).to(torch.int32) & 0xFFFF).tolist()
    return {"f16": f16, "bf16": bf16}


def write(path):
    g = torch.Generator().manual_seed(0)
    tensors = {
        "model.embed_tokens.weight": torch.randn(5, 3, generator=g).to(torch.bfloat16),
        "model.norm.weight": torch.tensor([1.0, -0.5, 65504.0, 2.0 ** -24, float("inf")], dtype=torch.float16),
        "lm_head.weight": torch.randn(2, 3, generator=g),
        "position_ids": torch.tensor([[0, 1, -7, 2 ** 40]], dtype=torch.int64),
        "mask": torch.tensor([True, False, True]),
    }
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        b = t.contiguous().view(torch.uint8).numpy().tobytes() if t.dtype != torch.bool else bytes(t.to(torch.uint8).tolist())
        header[name] = {"dtype": NAME[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    return {n: {"dtype": NAME[t.dtype], "shape": list(t.shape),
                "values": as_json(t.to(torch.float64) if t.is_floating_point() else t.to(torch.int64))} for n, t in tensors.items()}


if __name__ == "__main__":
    mode, arg = sys.argv[1], sys.argv[2]
    print(json.dumps({"read": read_dir, "convert": convert, "write": write}[mode](arg)))
