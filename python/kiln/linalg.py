# SPDX-License-Identifier: BSD-3-Clause
"""kiln.linalg: torch.linalg's solvers, decompositions and norms on batches of matrices
[..., m, n] (float32 and float64), computed by kiln::linalg in C++ with autograd."""
from . import _C

_L = _C._linalg
LinAlgError = _L.LinAlgError
LinAlgError.__module__ = "kiln.linalg"

__all__ = [
    "LinAlgError", "solve", "inv", "det", "slogdet", "matrix_power", "cholesky", "qr", "svd",
    "svdvals", "eigh", "eigvalsh", "lstsq", "vector_norm", "matrix_norm", "norm",
]


def _mT(x):  # noqa: N802  (torch's name for the last-two-dims transpose)
    return x.transpose(-2, -1)


def solve(A, B, *, left=True):
    """X with A X = B (or X A = B with left=False)."""
    if left:
        return _L.solve(A, B)
    return _mT(_L.solve(_mT(A), _mT(B)))


def inv(A):
    return _L.inv(A)


def det(A):
    return _L.det(A)


def slogdet(A):
    """(sign, logabsdet) of each matrix."""
    return _L.slogdet(A)


def matrix_power(A, n):
    return _L.matrix_power(A, n)


def cholesky(A, *, upper=False):
    return _L.cholesky(A, upper)


def qr(A, mode="reduced"):
    """(Q, R); mode "reduced", "complete" or "r"."""
    return _L.qr(A, mode)


def svd(A, full_matrices=True, *, driver=None):
    """(U, S, Vh) with A = U diag(S) Vh."""
    if driver is not None:
        raise ValueError("linalg.svd: driver is a CUDA option; kiln computes on the CPU")
    return _L.svd(A, full_matrices)


def svdvals(A, *, driver=None):
    if driver is not None:
        raise ValueError("linalg.svdvals: driver is a CUDA option; kiln computes on the CPU")
    return _L.svdvals(A)


def eigh(A, UPLO="L"):  # noqa: N803  (torch's name)
    """(eigenvalues ascending, eigenvectors as columns) of symmetric A."""
    return _L.eigh(A, UPLO)


def eigvalsh(A, UPLO="L"):  # noqa: N803
    return _L.eigvalsh(A, UPLO)


def lstsq(A, B, rcond=None, *, driver=None):
    """(solution, residuals, rank, singular_values), as torch's default driver "gelsy"."""
    if driver not in (None, "gelsy"):
        raise ValueError(f"linalg.lstsq: kiln implements the 'gelsy' driver only, got {driver!r}")
    return _L.lstsq(A, B, rcond)


def _as(x, dtype):
    return x if dtype is None else x.to(dtype)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    return _L.vector_norm(_as(x, dtype), float(ord), dim, keepdim)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    return _L.matrix_norm(_as(A, dtype), ord, dim, keepdim)


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """A vector norm over one dim, a matrix norm over two; see torch.linalg.norm."""
    return _L.norm(_as(A, dtype), ord, dim, keepdim)
