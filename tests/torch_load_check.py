#!/usr/bin/python3
"""Loads cnnbench weights into PyTorch the plain way and prints the logits of a fixed input.

Used by tests/test_torch_compat.cpp: the safetensors file is read with struct and json only (no
safetensors package), the tensors go into torch.nn.Module.load_state_dict(strict=True) of the `simple`
model built in torch, and the logits of the input (raw little-endian float32, N x 1 x 28 x 28) are
printed as one JSON list per image. Exit code 2 with a message on stderr when the file does not load.
"""

import json
import struct
import sys

import torch
from torch import nn


class Simple(nn.Module):
    """cnnbench's `simple`: conv3x3x32-relu-maxpool2, conv3x3x64-relu-maxpool2, fc128-relu, fc10 (NCHW)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.fc1 = nn.Linear(64 * 5 * 5, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = nn.functional.max_pool2d(torch.relu(self.conv2(x)), 2)
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def read_safetensors(path):
    """The whole format: u64 header length, a JSON header, then the tensors' bytes."""
    with open(path, "rb") as f:
        raw = f.read()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    body = raw[8 + header_len:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=torch.float32)
        tensors[name] = t.reshape(info["shape"])
    return tensors, header.get("__metadata__", {})


def main():
    weights, inputs, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    model = Simple()
    tensors, metadata = read_safetensors(weights)
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as e:
        print(f"load_state_dict(strict=True) refused {weights}: {e}", file=sys.stderr)
        sys.exit(2)
    with open(inputs, "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(n, 1, 28, 28)
    with torch.no_grad():
        logits = model(x)
    print(json.dumps({"format": metadata.get("format"), "logits": logits.tolist()}))


if __name__ == "__main__":
    main()
