# SPDX-License-Identifier: BSD-3-Clause
"""Indexing and index assignment against numpy (which torch agrees with for basic
indices and a single advanced index): views share memory, gathers copy."""
import numpy as np
import pytest

import kiln

A = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)

INDICES = [
    1, -1, (0, 2), (slice(None), 1), slice(1, None), (slice(None), slice(None, None, 2)),
    (slice(None), slice(3, 0, 1)), (Ellipsis, 1), (0, Ellipsis, slice(1, 4, 2)),
    None, (None, 0, None), (slice(None), None, 1), (1, 2, 3, 4), (), Ellipsis,
    [1, 0], (slice(None), [2, 0, 2]), (Ellipsis, [4]),
    (slice(None), np.array([[0, 1], [2, 2]])),
]


def kiln_index(ix):
    if isinstance(ix, np.ndarray):
        return kiln.tensor(ix)
    if isinstance(ix, tuple):
        return tuple(kiln_index(i) for i in ix)
    return ix


@pytest.mark.parametrize("ix", INDICES, ids=[repr(i) for i in INDICES])
def test_getitem_matches_numpy(ix):
    k = kiln.tensor(A)
    got = k[kiln_index(ix)]
    want = A[ix]
    assert got.shape == np.shape(want)
    np.testing.assert_array_equal(got.numpy(), want)


def test_an_int_beside_a_list_is_a_basic_index():
    # torch (unlike numpy) applies the int first: x[0, :, [3, 1]] is x[0][:, [3, 1]].
    k = kiln.tensor(A)
    got = k[0, :, [-1, 1]]
    assert got.shape == (3, 2, 5)
    np.testing.assert_array_equal(got.numpy(), A[0][:, [-1, 1]])


def test_masks_match_numpy():
    k = kiln.tensor(A)
    m = A > 60
    np.testing.assert_array_equal(k[kiln.tensor(m)].numpy(), A[m])
    m2 = np.array([True, False, True])
    np.testing.assert_array_equal(k[:, kiln.tensor(m2)].numpy(), A[:, m2])
    m3 = A[0] % 3 == 0  # over dims 1..3 of A[0]
    np.testing.assert_array_equal(k[0][kiln.tensor(m3)].numpy(), A[0][m3])
    np.testing.assert_array_equal(k[k > 100].numpy(), A[A > 100])


def test_basic_indices_are_views():
    k = kiln.zeros(3, 4)
    row = k[1]
    row += 5
    col = k[:, 2]
    col *= 2
    assert k.tolist()[1] == [5.0, 5.0, 10.0, 5.0]
    # An advanced index copies.
    g = k[[0, 1]]
    g += 100
    assert k.tolist()[0] == [0.0, 0.0, 0.0, 0.0]


def test_setitem_matches_numpy():
    cases = [
        (1, 7.0), ((slice(None), 2), -1.0), ((0, slice(1, 3)), np.array([9.0, 8.0])),
        ((Ellipsis, 0), np.array([1.0, 2.0, 3.0])), ([0, 2], 4.0),
        ((slice(None), [3, 1]), np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])),
    ]
    for ix, value in cases:
        a = np.arange(12, dtype=np.float32).reshape(3, 4)
        k = kiln.tensor(a)
        a[ix] = value
        k[kiln_index(ix)] = kiln.tensor(value) if isinstance(value, np.ndarray) else value
        np.testing.assert_array_equal(k.numpy(), a, err_msg=repr(ix))
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    k = kiln.tensor(a)
    k[k > 5] = 0
    a[a > 5] = 0
    np.testing.assert_array_equal(k.numpy(), a)
    k[kiln.tensor(a == 0)] = kiln.arange(7, dtype=kiln.float32)
    a[a == 0] = np.arange(7)
    np.testing.assert_array_equal(k.numpy(), a)


def test_index_errors_are_index_errors():
    k = kiln.zeros(2, 3)
    with pytest.raises(IndexError, match="out of bounds for dimension 1 with size 3"):
        k[0, 3]
    with pytest.raises(IndexError, match="too many indices"):
        k[0, 0, 0]
    with pytest.raises(IndexError, match="out of bounds"):
        k[[0, 2]]
    with pytest.raises(IndexError, match="mask"):
        k[kiln.tensor([True, False, True])]
    with pytest.raises(IndexError):
        k["a"]
    with pytest.raises(ValueError, match="step"):
        k[::-1]


def test_iteration_and_gradients_through_indexing():
    rows = list(kiln.arange(6).reshape(3, 2))
    assert [r.tolist() for r in rows] == [[0, 1], [2, 3], [4, 5]]
    x = kiln.arange(6, dtype=kiln.float64).reshape(2, 3).requires_grad_()
    y = (x[:, 1:] * 2).sum() + x[x > 3].sum() + x[[0, 0]].sum()
    y.backward()
    assert x.grad.tolist() == [[2.0, 4.0, 4.0], [0.0, 3.0, 3.0]]
