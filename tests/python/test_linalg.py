# SPDX-License-Identifier: BSD-3-Clause
"""kiln.linalg against numpy and torch.linalg: values of every function on batches,
non-contiguous and empty inputs, dtypes, errors, and gradients vs torch in float64."""
import numpy as np
import pytest

import kiln
from kiln import linalg

try:
    import torch
except ImportError:
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="torch is not installed")
rng = np.random.default_rng(11)


def K(a, noncontig=False, requires_grad=False):
    a = np.asarray(a)
    if not noncontig:
        return kiln.tensor(a, requires_grad=requires_grad)
    # a view with the last two dims transposed, holding a's values
    base = kiln.tensor(np.ascontiguousarray(np.swapaxes(a, -1, -2)), requires_grad=requires_grad)
    view = base.transpose(-1, -2)
    assert view.is_contiguous() == (a.shape[-1] == 1 or a.shape[-2] == 1)
    return view


def well_conditioned(*shape):
    n = shape[-1]
    return rng.standard_normal(shape) + 3 * np.eye(n)


def spd(*shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def close(k, want, rtol=1e-10, atol=1e-10):
    got = k.detach().numpy() if isinstance(k, kiln.Tensor) else k
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


@pytest.mark.parametrize("noncontig", [False, True])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_solve_inv_det_slogdet_match_numpy(batch, noncontig):
    a = well_conditioned(*batch, 4, 4)
    b = rng.standard_normal(batch + (4, 2))
    close(linalg.solve(K(a, noncontig), K(b)), np.linalg.solve(a, b))
    close(linalg.inv(K(a, noncontig)), np.linalg.inv(a))
    close(linalg.det(K(a, noncontig)), np.linalg.det(a))
    close(kiln.det(K(a)), np.linalg.det(a))
    close(K(a).inverse(), np.linalg.inv(a))
    s = linalg.slogdet(K(a, noncontig))
    ws, wl = np.linalg.slogdet(a)
    close(s.sign, ws)
    close(s.logabsdet, wl)
    assert s._fields == ("sign", "logabsdet")
    for n in (0, 1, 3, -2):
        close(linalg.matrix_power(K(a, noncontig), n),
              np.linalg.matrix_power(a, n) if n >= 0 else
              np.linalg.matrix_power(np.linalg.inv(a), -n))
    assert linalg.det(K(a.astype(np.float32))).dtype == kiln.float32


def test_solve_forms():
    a = well_conditioned(3, 3)
    v = rng.standard_normal(3)
    close(linalg.solve(K(a), K(v)), np.linalg.solve(a, v))
    b = rng.standard_normal((2, 3))
    close(linalg.solve(K(a), K(b), left=False), np.linalg.solve(a.T, b.T).T)
    # batch dims broadcast
    ab = well_conditioned(2, 3, 3)
    rhs = rng.standard_normal((3, 1))
    close(linalg.solve(K(ab), K(rhs)), np.linalg.solve(ab, np.broadcast_to(rhs, (2, 3, 1))))


def test_decompositions_reconstruct_and_match_numpy():
    a = rng.standard_normal((2, 5, 3))
    q, r = linalg.qr(K(a))
    assert q.shape == (2, 5, 3) and r.shape == (2, 3, 3)
    close(q.numpy() @ r.numpy(), a)
    close(np.triu(r.numpy()), r.numpy())
    close(np.swapaxes(q.numpy(), -1, -2) @ q.numpy(), np.broadcast_to(np.eye(3), (2, 3, 3)))
    q, r = linalg.qr(K(a, True), mode="complete")
    assert q.shape == (2, 5, 5) and r.shape == (2, 5, 3)
    close(q.numpy() @ r.numpy(), a)
    _, r_only = linalg.qr(K(a), "r")
    close(np.abs(r_only.numpy()), np.abs(np.linalg.qr(a)[1]))

    u, s, vh = linalg.svd(K(a), full_matrices=False)
    assert type(linalg.svd(K(a))).__name__ == "linalg_svd"
    close(s, np.linalg.svd(a, compute_uv=False))
    close((u.numpy() * s.numpy()[..., None, :]) @ vh.numpy(), a)
    u, s, vh = linalg.svd(K(a, True))
    assert u.shape == (2, 5, 5) and vh.shape == (2, 3, 3)
    close(linalg.svdvals(K(a)), np.linalg.svd(a, compute_uv=False))

    p = spd(3, 4, 4)
    l_ = linalg.cholesky(K(p, True))
    close(l_, np.linalg.cholesky(p))
    close(linalg.cholesky(K(p), upper=True), np.swapaxes(np.linalg.cholesky(p), -1, -2))
    w, v = linalg.eigh(K(p))
    ww, _ = np.linalg.eigh(p)
    close(w, ww)
    close(v.numpy() @ (w.numpy()[..., None] * np.swapaxes(v.numpy(), -1, -2)), p)
    close(linalg.eigvalsh(K(p), UPLO="U"), np.linalg.eigvalsh(p, UPLO="U"))
    # only the named triangle is read
    junk = np.tril(p) + np.triu(rng.standard_normal((4, 4)), 1)
    close(linalg.eigvalsh(K(junk)), np.linalg.eigvalsh(p))


def test_lstsq_matches_numpy():
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    r = linalg.lstsq(K(a), K(b))
    sol, res, rank, _ = np.linalg.lstsq(a, b, rcond=None)
    close(r.solution, sol)
    close(r.residuals, res)
    assert r.rank.item() == rank and r.rank.dtype == kiln.int64
    assert r._fields == ("solution", "residuals", "rank", "singular_values")
    # rank-deficient: the minimum-norm solution
    d = np.concatenate([a[:, :2], a[:, :1]], 1)
    close(linalg.lstsq(K(d), K(b)).solution, np.linalg.lstsq(d, b, rcond=None)[0], rtol=1e-8)
    with pytest.raises(ValueError):
        linalg.lstsq(K(a), K(b), driver="gelsd")


@pytest.mark.parametrize("noncontig", [False, True])
def test_norms_match_numpy(noncontig):
    a = rng.standard_normal((2, 3, 4))
    x = K(a, noncontig)
    for ord_ in (2, 1, 3.5, np.inf, -np.inf, 0):
        flat = a.reshape(-1)
        want = np.linalg.norm(flat, ord_) if ord_ != 0 else np.count_nonzero(flat)
        close(linalg.vector_norm(x, ord_), want)
        close(linalg.vector_norm(x, ord_, dim=(-1,), keepdim=True),
              np.linalg.norm(a, ord_, axis=-1, keepdims=True))
    for ord_ in ("fro", "nuc", np.inf, -np.inf, 1, -1, 2, -2):
        close(linalg.matrix_norm(x, ord_), np.linalg.norm(a, ord_, axis=(-2, -1)))
        close(linalg.matrix_norm(x, ord_, dim=(0, 2), keepdim=True),
              np.linalg.norm(a, ord_, axis=(0, 2), keepdims=True))
    close(linalg.norm(x), np.linalg.norm(a.reshape(-1)))
    close(linalg.norm(x, 3, dim=1), np.linalg.norm(a, 3, axis=1))
    close(linalg.norm(x, "nuc", dim=(1, 2)), np.linalg.norm(a, "nuc", axis=(1, 2)))
    close(linalg.norm(x[0], 1), np.linalg.norm(a[0], 1))
    close(linalg.vector_norm(K(a.astype(np.float32)), dtype=kiln.float64),
          np.linalg.norm(a.astype(np.float32).reshape(-1).astype(np.float64)))


def test_empty_and_errors():
    e = np.zeros((0, 3, 3))
    assert linalg.inv(K(e)).shape == (0, 3, 3)
    assert linalg.det(K(np.zeros((0, 0)))).item() == 1.0
    with pytest.raises(TypeError, match="float32 or float64"):
        linalg.inv(K(np.eye(2, dtype=np.int64)))
    with pytest.raises(TypeError, match="float32 or float64"):
        linalg.det(K(np.eye(2)).half())
    with pytest.raises(TypeError, match="one dtype"):
        linalg.solve(K(np.eye(2)), K(np.ones(2, np.float32)))
    with pytest.raises(linalg.LinAlgError, match="singular"):
        linalg.inv(K(np.zeros((2, 2))))
    with pytest.raises(RuntimeError, match="singular"):  # LinAlgError is one, as torch's
        linalg.solve(K(np.zeros((2, 2))), K(np.ones(2)))
    with pytest.raises(linalg.LinAlgError):
        linalg.cholesky(K(-np.eye(2)))
    with pytest.raises(RuntimeError):
        linalg.det(K(np.ones((2, 3))))
    with pytest.raises(ValueError):
        linalg.eigh(K(np.eye(2)), UPLO="X")
    with pytest.raises(ValueError):
        linalg.matrix_norm(K(np.eye(2)), "bad")
    s = linalg.slogdet(K(np.zeros((2, 2))))
    assert s.sign.item() == 0 and s.logabsdet.item() == -np.inf


# ---- gradients vs torch -----------------------------------------------------------------------

def _outs(o):
    return list(o) if isinstance(o, tuple) else [o]


def check_grads(fk, ft, *arrays, rtol=1e-8, atol=1e-10, use=None):
    ks = [kiln.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    ko, to = _outs(fk(*ks)), _outs(ft(*ts))
    use = range(len(to)) if use is None else use
    lk = lt = 0
    for i in use:
        w = rng.standard_normal(tuple(to[i].shape))
        lk = lk + (ko[i] * kiln.tensor(w)).sum()
        lt = lt + (to[i] * torch.tensor(w)).sum()
    lk.backward()
    lt.backward()
    for k, t in zip(ks, ts):
        np.testing.assert_allclose(k.grad.numpy(), t.grad.numpy(), rtol=rtol, atol=atol)


@needs_torch
def test_gradients_match_torch():
    a = well_conditioned(2, 3, 3)
    b = rng.standard_normal((2, 3, 2))
    p = spd(3, 3)
    tl = torch.linalg
    check_grads(linalg.solve, tl.solve, a, b)
    check_grads(linalg.inv, tl.inv, a)
    check_grads(linalg.det, tl.det, a)
    check_grads(lambda x: linalg.slogdet(x), lambda x: tl.slogdet(x), a, use=[1])
    check_grads(lambda x: linalg.matrix_power(x, 3), lambda x: tl.matrix_power(x, 3), a)
    check_grads(lambda x: linalg.matrix_power(x, -2), lambda x: tl.matrix_power(x, -2), a)
    # symmetric functions: the loss depends on the symmetric part only
    check_grads(lambda x: linalg.cholesky(x + x.transpose(-2, -1)),
                lambda x: tl.cholesky(x + x.transpose(-2, -1)), p)
    check_grads(lambda x: linalg.eigvalsh(x + x.transpose(-2, -1)),
                lambda x: tl.eigvalsh(x + x.transpose(-2, -1)), p)
    tall = rng.standard_normal((4, 3))
    check_grads(lambda x: linalg.qr(x), lambda x: tl.qr(x), tall)
    check_grads(linalg.svdvals, tl.svdvals, tall)
    check_grads(lambda x: linalg.vector_norm(x, 3, dim=1), lambda x: tl.vector_norm(x, 3, dim=1),
                tall)
    check_grads(lambda x: linalg.matrix_norm(x, "nuc"), lambda x: tl.matrix_norm(x, "nuc"), tall)
    check_grads(lambda x: linalg.norm(x), lambda x: tl.norm(x), tall)
