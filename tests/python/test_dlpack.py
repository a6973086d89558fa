# SPDX-License-Identifier: BSD-3-Clause
"""DLPack both ways, sharing memory: with numpy always, with torch where it is installed."""
import numpy as np
import pytest

import kiln


@pytest.mark.parametrize("dtype", [kiln.float32, kiln.float64, kiln.float16, kiln.int64,
                                   kiln.int32, kiln.int16, kiln.int8, kiln.uint8, kiln.bool])
def test_numpy_reads_kiln_through_dlpack(dtype):
    if dtype == kiln.bool and np.lib.NumpyVersion(np.__version__) < "1.25.0":
        pytest.skip("numpy reads DLPack bool from 1.25 on")
    t = (kiln.arange(12).reshape(3, 4) > 5) if dtype == kiln.bool else \
        kiln.arange(12).reshape(3, 4).to(dtype)
    a = np.from_dlpack(t)
    np.testing.assert_array_equal(a, t.numpy())
    assert a.__array_interface__["data"][0] == t.numpy().__array_interface__["data"][0]


def test_kiln_reads_numpy_through_dlpack_and_shares_memory():
    a = np.arange(12.0).reshape(3, 4)[:, 1::2]  # strided
    t = kiln.from_dlpack(a)
    np.testing.assert_array_equal(t.numpy(), a)
    a[0, 0] = 100
    assert t.tolist()[0][0] == 100
    e = kiln.from_dlpack(np.zeros((0, 3), np.float32))
    assert e.shape == (0, 3)


def test_kiln_round_trip_and_refusals():
    t = kiln.ones(2, 3)
    u = kiln.from_dlpack(t)
    u += 1
    assert t.tolist() == [[2.0, 2.0, 2.0], [2.0, 2.0, 2.0]]
    cap = t.__dlpack__()
    kiln.from_dlpack(cap)
    with pytest.raises(ValueError, match="only once"):
        kiln.from_dlpack(cap)
    with pytest.raises(RuntimeError, match="requires grad"):
        kiln.ones(2, requires_grad=True).__dlpack__()
    assert t.__dlpack_device__() == (1, 0)


def test_torch_shares_memory_both_ways():
    torch = pytest.importorskip("torch")
    k = kiln.arange(6, dtype=kiln.float32).reshape(2, 3)
    tt = torch.from_dlpack(k)
    tt[0, 0] = 42
    assert k.tolist()[0][0] == 42
    src = torch.arange(6, dtype=torch.float64).reshape(2, 3).t()
    kk = kiln.from_dlpack(src)
    assert kk.shape == (3, 2) and kk.tolist() == src.tolist()
    src[0, 0] = -1
    assert kk.tolist()[0][0] == -1
    b = kiln.from_dlpack(torch.zeros(2, dtype=torch.bfloat16))
    assert b.dtype == kiln.bfloat16


def test_imported_memory_can_be_released_inside_backward():
    # The graph holds the only reference to numpy's buffer; backward (which runs without
    # the GIL) drops it, and numpy's deleter needs the GIL.
    x = kiln.from_dlpack(np.ones(4)).requires_grad_()
    y = (x * x).sum()
    del x
    y.backward()
    assert y.item() == 4.0
