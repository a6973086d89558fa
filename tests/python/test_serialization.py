# SPDX-License-Identifier: BSD-3-Clause
"""kiln.save / kiln.load: every dtype and shape read back exactly, nested Python structure
(ints vs floats, tuples, int keys, None, non-finite floats), interchange with the
safetensors package (numpy and torch), atomic writes, and damaged files."""
import json
import math
import os
import struct

import numpy as np
import pytest
import safetensors.numpy

import kiln
import kiln.nn as nn

try:
    import torch
    import safetensors.torch as st_torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")

NUMPY_DTYPES = {kiln.bool: np.bool_, kiln.uint8: np.uint8, kiln.int8: np.int8,
                kiln.int16: np.int16, kiln.int32: np.int32, kiln.int64: np.int64,
                kiln.float16: np.float16, kiln.float32: np.float32, kiln.float64: np.float64}


def sample(dtype, shape, seed=0):
    rng = np.random.default_rng(seed)
    if dtype == kiln.bool:
        return kiln.tensor(rng.random(shape) > 0.5)
    if dtype.is_floating_point:
        return kiln.tensor(rng.standard_normal(shape) * 100, dtype=dtype)
    info = np.iinfo(NUMPY_DTYPES[dtype])
    return kiln.tensor(rng.integers(info.min, info.max, shape, endpoint=True,
                                    dtype=NUMPY_DTYPES[dtype]))


def as_array(t):
    # bfloat16 has no numpy dtype; its float32 values are exact.
    return (t.float() if t.dtype == kiln.bfloat16 else t).numpy()


def same(a, b):
    return (a.dtype == b.dtype and a.shape == b.shape
            and np.array_equal(as_array(a), as_array(b), equal_nan=True))


ALL_DTYPES = list(NUMPY_DTYPES) + [kiln.bfloat16]


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=repr)
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 0, 4), (3, 5)])
def test_a_tensor_round_trips_exactly(dtype, shape, tmp_path):
    t = sample(dtype, shape)
    kiln.save(t, tmp_path / "t.safetensors")
    back = kiln.load(tmp_path / "t.safetensors")
    assert isinstance(back, kiln.Tensor) and same(back, t)


def test_views_and_parameters_are_saved_as_their_values(tmp_path):
    base = kiln.arange(12, dtype=kiln.float64).reshape(3, 4)
    p = nn.Parameter(kiln.randn(2, 3))
    kiln.save({"view": base.t(), "slice": base[:, 1], "param": p}, str(tmp_path / "v"))
    back = kiln.load(str(tmp_path / "v"))
    assert back["view"].tolist() == base.t().tolist() and back["view"].is_contiguous()
    assert back["slice"].tolist() == [1.0, 5.0, 9.0]
    assert back["param"].tolist() == p.tolist() and not back["param"].requires_grad


def test_a_state_dict_is_a_plain_safetensors_file(tmp_path):
    kiln.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    path = tmp_path / "model.safetensors"
    kiln.save(model.state_dict(), path)
    arrays = safetensors.numpy.load_file(str(path))
    sd = model.state_dict()
    assert sorted(arrays) == sorted(sd)
    for k, v in sd.items():
        np.testing.assert_array_equal(arrays[k], v.detach().numpy())
    back = kiln.load(path)
    assert list(back) == list(sd)  # the file keeps the dict's order
    other = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    other.load_state_dict(back)
    x = kiln.randn(5, 3)
    assert other(x).tolist() == model(x).tolist()


def test_a_file_written_by_safetensors_numpy_loads(tmp_path):
    arrays = {"a": np.arange(6, dtype=np.int32).reshape(2, 3),
              "b": np.array([1.5, -2.25], dtype=np.float16), "c": np.zeros((0, 2)),
              "d": np.array(True)}
    safetensors.numpy.save_file(arrays, str(tmp_path / "np.safetensors"))
    back = kiln.load(tmp_path / "np.safetensors")
    assert sorted(back) == ["a", "b", "c", "d"]
    for k, v in arrays.items():
        assert back[k].numpy().dtype == v.dtype and back[k].shape == v.shape
        np.testing.assert_array_equal(back[k].numpy(), v)


@needs_torch
def test_interchange_with_safetensors_torch(tmp_path):
    tensors = {"w": torch.randn(3, 4), "h": torch.randn(5).half(),
               "b": torch.randn(2, 2).bfloat16(), "i": torch.arange(7),
               "m": torch.tensor([True, False])}
    st_torch.save_file(tensors, str(tmp_path / "torch.safetensors"), metadata={"format": "pt"})
    back = kiln.load(tmp_path / "torch.safetensors")
    assert sorted(back) == sorted(tensors)
    for k, v in tensors.items():
        assert str(back[k].dtype).replace("kiln.", "") == str(v.dtype).replace("torch.", "")
        np.testing.assert_array_equal(as_array(back[k]), v.float().numpy() if v.dtype in (
            torch.bfloat16,) else v.numpy())
    kiln.save(back, tmp_path / "kiln.safetensors")
    again = st_torch.load_file(str(tmp_path / "kiln.safetensors"))
    for k, v in tensors.items():
        assert again[k].dtype == v.dtype and torch.equal(again[k], v)


def test_nested_structure_reads_back_exactly(tmp_path):
    t = kiln.tensor([1.0, 2.0])
    obj = {
        "state": {0: {"step": 3, "exp_avg": t, "momentum_buffer": None},
                  2: {"step": 1, "sum": kiln.zeros(2, 2, dtype=kiln.float64)}},
        "param_groups": [{"lr": 0.1, "betas": (0.9, 0.999), "params": [0, 1, 2],
                          "amsgrad": False, "foreach": None, "name": "héllo \"w\"\n"}],
        "ints_and_floats": [1, 1.0, -0.0, 2**70, 1e300, 5e-324, 0.1 + 0.2],
        "non_finite": [math.inf, -math.inf, math.nan],
        "empty": [{}, [], (), ""],
        (1, "a"): "tuple key",
        None: 1.5,
        True: [t, t],
    }
    kiln.save(obj, tmp_path / "o")
    back = kiln.load(tmp_path / "o")
    assert list(back) == list(obj)
    s0 = back["state"][0]
    assert s0["step"] == 3 and type(s0["step"]) is int and s0["momentum_buffer"] is None
    assert same(s0["exp_avg"], t) and same(back["state"][2]["sum"], obj["state"][2]["sum"])
    g = back["param_groups"][0]
    assert g == {k: v for k, v in obj["param_groups"][0].items()}
    assert type(g["betas"]) is tuple and type(g["lr"]) is float
    nums = back["ints_and_floats"]
    assert [type(x) for x in nums] == [int, float, float, int, float, float, float]
    assert nums == obj["ints_and_floats"] and math.copysign(1, nums[2]) == -1
    inf, minf, nan = back["non_finite"]
    assert inf == math.inf and minf == -math.inf and math.isnan(nan)
    assert back["empty"] == [{}, [], (), ""] and type(back["empty"][2]) is tuple
    assert back[(1, "a")] == "tuple key" and back[None] == 1.5
    assert same(back[True][0], t) and same(back[True][1], t)
    # The tensors sit under their key paths, so other readers see sensible names.
    names = sorted(safetensors.numpy.load_file(str(tmp_path / "o")))
    assert names == ["True.0", "True.1", "state.0.exp_avg", "state.2.sum"]


def test_colliding_key_paths_get_distinct_names(tmp_path):
    obj = {"a.b": kiln.ones(1), "a": {"b": kiln.zeros(1)}}
    kiln.save(obj, tmp_path / "c")
    back = kiln.load(tmp_path / "c")
    assert back["a.b"].tolist() == [1.0] and back["a"]["b"].tolist() == [0.0]


def test_unsupported_objects_raise_before_writing(tmp_path):
    path = tmp_path / "keep"
    kiln.save({"x": kiln.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"cannot save a ndarray \(at 'a.0'\)"):
        kiln.save({"a": [np.ones(2)]}, path)
    with pytest.raises(TypeError, match="dict key of type Tensor"):
        kiln.save({kiln.ones(1): 1}, path)
    with pytest.raises(TypeError, match="file path"):
        kiln.save(kiln.ones(1), open(os.devnull, "wb"))
    assert path.read_bytes() == before


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    kiln.save({"v": kiln.ones(3)}, path)
    kiln.save({"v": kiln.zeros(1000)}, path)  # replaces the old file whole
    assert kiln.load(path)["v"].shape == (1000,)
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]
    with pytest.raises(RuntimeError, match="missing_dir"):
        kiln.save(kiln.ones(1), tmp_path / "missing_dir" / "f")
    assert os.listdir(tmp_path) == ["ckpt.safetensors"]


def test_damaged_files_raise_clear_errors(tmp_path):
    path = tmp_path / "good"
    kiln.save({"w": kiln.arange(100, dtype=kiln.float32), "s": 1}, path)
    data = path.read_bytes()
    cases = {
        "truncated": (data[:-10], "data_offsets .* out of"),
        "header_cut": (data[:20], "truncated"),
        "tiny": (data[:5], "shorter than the 8-byte header"),
        "empty": (b"", "shorter than the 8-byte header"),
        "garbage": (b"\x10\x00\x00\x00\x00\x00\x00\x00not json at all!", "not"),
        "extra": (data + b"\x00" * 8, "bytes after the last tensor"),
    }
    for name, (content, message) in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(RuntimeError, match=message):
            kiln.load(bad)
    # A valid file whose structure metadata was tampered with.
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header["__metadata__"]["kiln.structure"] = '{"dict": [["w", {"tensor": "nope"}]]}'
    text = json.dumps(header).encode()
    (tmp_path / "meta").write_bytes(struct.pack("<Q", len(text)) + text + data[8 + n:])
    with pytest.raises(ValueError, match="'nope' that the file does not hold"):
        kiln.load(tmp_path / "meta")
    with pytest.raises(FileNotFoundError):
        kiln.load(tmp_path / "absent")
