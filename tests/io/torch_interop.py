#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""safetensors compatibility with PyTorch's reader and writer, both ways.

  torch_interop.py KILN_TESTS      kiln_tests writes TENSORS ("[.interop]"); safetensors.torch
                                   must read them back equal, with the metadata.
  torch_interop.py --write-golden  regenerates the files under tests/io/data that kiln_tests
                                   reads: torch_written.safetensors (TENSORS), and a trained
                                   torch model with BatchNorm (torch_model.safetensors) with an
                                   input and torch's output in eval mode (torch_model_io...).

Exits 77 (ctest: skipped) when torch or safetensors is not importable.
"""
import os
import subprocess
import sys
import tempfile

try:
    import torch
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

# The same tensors are spelled out in tests/io/test_safetensors.cpp.
TENSORS = {
    "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 4 - 0.5,
    "f64": torch.arange(4, dtype=torch.float64) / 3,
    "f16": torch.arange(5, dtype=torch.float16) * 0.25 - 1,
    "bf16": torch.arange(3, dtype=torch.bfloat16) * 1.5,
    "i8": torch.tensor([-128, 0, 127], dtype=torch.int8),
    "i16": torch.tensor([-300, 7], dtype=torch.int16),
    "i32": torch.tensor([[-70000], [5]], dtype=torch.int32),
    "i64": torch.tensor(-(2**40), dtype=torch.int64),
    "u8": torch.tensor([0, 200, 255], dtype=torch.uint8),
    "b": torch.tensor([True, False, True, True]),
    "empty": torch.zeros(0, 3),
}
METADATA = {"format": "pt", "note": "kiln interop"}


def write_golden():
    data = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")
    save_file(TENSORS, os.path.join(data, "torch_written.safetensors"), METADATA)
    # A few training steps move BatchNorm's running statistics and num_batches_tracked off
    # their initial values; the kiln twin is built in tests/io/test_safetensors.cpp.
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.ReLU(),
                                torch.nn.Linear(4, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randn(8, 3)).square().mean().backward()
        opt.step()
    model.eval()
    x = torch.randn(5, 3)
    with torch.no_grad():
        y = model(x)
    save_file(model.state_dict(), os.path.join(data, "torch_model.safetensors"))
    save_file({"x": x, "y": y}, os.path.join(data, "torch_model_io.safetensors"))


def main():
    if sys.argv[1:] == ["--write-golden"]:
        write_golden()
        return 0
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "kiln_written.safetensors")
        subprocess.run([exe, "[.interop]"], env={**os.environ, "KILN_INTEROP_FILE": path},
                       check=True, stdout=subprocess.DEVNULL)
        got = load_file(path)
        with safe_open(path, "pt") as f:
            metadata = f.metadata()
    assert set(got) == set(TENSORS), sorted(set(got) ^ set(TENSORS))
    for name, want in TENSORS.items():
        g = got[name]
        assert g.dtype == want.dtype, f"{name}: dtype {g.dtype}, want {want.dtype}"
        assert g.shape == want.shape, f"{name}: shape {tuple(g.shape)}, want {tuple(want.shape)}"
        assert torch.equal(g, want), f"{name}: {g} != {want}"
    assert metadata == METADATA, metadata
    print(f"safetensors.torch read kiln's file: {len(TENSORS)} tensors equal, metadata equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
