# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the Python tests: problem generators and independent dense references,
and the torch entry point under test (sparse_generic_lstsq, on the path TORCH_PATH names)."""

import os

import numpy as np
import pytest
import torch

DATA_DIR = os.environ.get(
    "SPARSEGRAD_DATA_DIR",
    os.path.join(os.path.dirname(__file__), "..", "..", "data", "lsq"),
)

# Which path of sparsegrad.torch the torch tests exercise: "auto" (the C++ core for CPU
# tensors) or "torch" (the device path, forced on the CPU; ctest's python_test_torch_on_torch_path).
TORCH_PATH = os.environ.get("SPARSEGRAD_TEST_TORCH_PATH", "auto")


def sparse_generic_lstsq(A, B, *args, **kwargs):
    """sparsegrad.torch.sparse_generic_lstsq on TORCH_PATH, where that path applies (LSMR and
    the lstsq callables; the direct solvers stay on the core, as "auto" runs them)."""
    from sparsegrad.torch import sparse_generic_lstsq as solve

    if kwargs.get("solver", "lsmr") == "lsmr":
        kwargs.setdefault("path", TORCH_PATH)
    return solve(A, B, *args, **kwargs)


# Tight LSMR tolerances: the tests compare against exact dense references.
TIGHT = dict(atol=1e-14, btol=1e-14, conlim=1e12, maxiter=1000)
TIGHT32 = dict(atol=1e-6, btol=1e-6, conlim=1e7, maxiter=500)


def tight(dtype):
    return TIGHT if dtype == torch.float64 else TIGHT32


def tolerance(dtype):
    return 1e-9 if dtype == torch.float64 else 2e-3


def random_dense_matrix(m, n, density, seed, dtype=torch.float64):
    """Dense m x n matrix with about `density` nonzeros plus a strong 'diagonal' (full column
    rank, well conditioned for m >= n)."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.rand(m, n, generator=g) < density
    D = torch.randn(m, n, generator=g, dtype=torch.float64) * mask
    for j in range(n):
        D[j % m, j] += 3.0
    return D.to(dtype)


def sparse(D, layout):
    """D as a coalesced COO or a CSR tensor."""
    coo = D.to_sparse().coalesce()
    return coo if layout == "coo" else coo.to_sparse_csr()


def dense_solution(D, B):
    """Reference X by torch.linalg.lstsq on the dense matrix, in float64."""
    return torch.linalg.lstsq(D.double(), B.double()).solution


def dense_gradients(D, B, dX):
    """Reference dL/dA (dense m x n) and dL/dB for L = <dX, X(A, B)>, by autograd through the
    normal equations on dense float64 tensors (independent of the sparse code path)."""
    A = D.double().clone().requires_grad_(True)
    Bd = B.double().clone().requires_grad_(True)
    X = torch.linalg.solve(A.T @ A, A.T @ Bd)
    (X * dX.double()).sum().backward()
    return A.grad, Bd.grad


def pattern_values(A_sparse, dense):
    """dense[i, j] at the stored entries of a sparse tensor, in its entry order."""
    if A_sparse.layout == torch.sparse_csr:
        crow, col = A_sparse.crow_indices(), A_sparse.col_indices()
        row = torch.repeat_interleave(torch.arange(A_sparse.shape[0]), crow[1:] - crow[:-1])
    else:
        row, col = A_sparse._indices()
    return dense[row, col]


def grad_values(grad):
    return grad.values() if grad.layout == torch.sparse_csr else grad._values()


@pytest.fixture(params=[torch.float32, torch.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture(params=["coo", "csr"])
def layout(request):
    return request.param
