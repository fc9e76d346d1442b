# SPDX-License-Identifier: Apache-2.0
"""PyTorch front end: ``sparse_generic_lstsq``, a drop-in for torchsparsegradutils'.

Switching is one line::

    from torchsparsegradutils import sparse_generic_lstsq      # before
    from sparsegrad.torch import sparse_generic_lstsq          # after

Same signature, shapes and exceptions. For CPU tensors the solves and the gradient assembly
run in sparsegrad's C++ core on the tensors' own memory (``tensor.numpy()`` views: A's values
and index arrays are not copied, except an uncoalesced COO tensor's indices and values, copied
once into the core's COO matrix); for tensors on another device the forward LSMR runs there in
torch operations (sparsegrad/_device.py, the C++ core taking every decision), and so does the
backward (CRAIG on the device, driven by the C++ adjoint engine). ``lstsq``/``transpose_lstsq`` callables are called with A and
the right-hand side on A's device, as the original calls them. Beyond the original: uncoalesced
COO tensors work in backward, the direct solvers and LSMR's options can be chosen, and
non-convergence is never silent (sparsegrad's failure policy, ``help(sparsegrad)``: it raises
by default).
"""

from typing import Any, Callable, Optional

import numpy as np
import torch

from . import _core, _core_solver, _device, _indptr_from_sorted_rows, _options, _report
from . import _with_options_doc

__all__ = ["sparse_generic_lstsq", "SparseGenericLstsq"]

_Solver = Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]
_DTYPES = (torch.float32, torch.float64)


def _check_inputs(A, B):
    if not isinstance(A, torch.Tensor) or A.layout not in (torch.sparse_coo, torch.sparse_csr):
        got = f"a tensor with layout {A.layout}" if isinstance(A, torch.Tensor) else type(A).__name__
        raise TypeError(f"sparsegrad: argument 'A': expected a sparse COO or CSR tensor, got {got}")
    if A.dtype not in _DTYPES:
        raise TypeError(f"sparsegrad: argument 'A': expected float32 or float64, got {A.dtype}")
    if A.dim() != 2 or A.dense_dim() != 0:
        raise ValueError(
            f"sparsegrad: argument 'A': expected a 2-D sparse matrix with scalar values, got "
            f"shape {tuple(A.shape)} with {A.dense_dim()} dense dimensions"
        )
    if not isinstance(B, torch.Tensor) or B.layout != torch.strided:
        got = f"a tensor with layout {B.layout}" if isinstance(B, torch.Tensor) else type(B).__name__
        raise TypeError(f"sparsegrad: argument 'B': expected a dense (strided) tensor, got {got}")
    if B.dtype != A.dtype:
        raise TypeError(f"sparsegrad: argument 'B': expected dtype {A.dtype} (A's), got {B.dtype}")
    if B.device != A.device:
        raise TypeError(
            f"sparsegrad: argument 'B': expected a tensor on A's device {A.device}, got device "
            f"{B.device}"
        )
    if B.dim() not in (1, 2) or B.shape[0] != A.shape[0]:
        raise ValueError(
            f"sparsegrad: argument 'B': expected shape ({A.shape[0]},) or ({A.shape[0]}, k) "
            f"(the rows of A), got {tuple(B.shape)}"
        )


def _matrix(A):
    """The core's view of a detached sparse tensor: numpy views of its own arrays."""
    m, n = A.shape
    if A.layout == torch.sparse_csr:
        return _core.Matrix(
            "csr", m, n, A.crow_indices().numpy(), A.col_indices().numpy(), A.values().numpy()
        )
    indices, values = A._indices(), A._values()
    if A.is_coalesced():
        # Sorted by (row, col) and unique: CSR over the same column indices and values.
        row = indices[0].numpy()
        return _core.Matrix(
            "csr", m, n, _indptr_from_sorted_rows(m, row), indices[1].numpy(), values.numpy()
        )
    return _core.Matrix("coo", m, n, indices[0].numpy(), indices[1].numpy(), values.numpy())


def _host(t):
    """`t` on the CPU (itself when it is there)."""
    return t if t.device.type == "cpu" else t.cpu()


def _columns(t):
    """A 1-D or 2-D tensor as a 2-D numpy array (a view where possible)."""
    t = t.detach()
    return (t.unsqueeze(1) if t.dim() == 1 else t).numpy()


class _TorchSolver:
    """A torch solver fn(A, B) -> X as the core's numpy callable, called on A's device (the
    core works on host arrays: the right-hand side goes to A's device, the result back).
    `vector` (set per call) passes the right-hand side as a 1-D tensor, as the original passes
    a vector B."""

    def __init__(self, fn, A, vector):
        self.fn, self.A, self.vector = fn, A, vector

    def __call__(self, M):
        rhs = torch.from_numpy(M).to(self.A.device)
        out = self.fn(self.A, rhs[:, 0] if self.vector else rhs)
        if isinstance(out, torch.Tensor):
            out = out.detach().cpu().numpy()
        return out


def _torch_solver(fn, A, vector):
    return None if fn is None else _TorchSolver(fn, A, vector)


def _host_options(options):
    """The options with tensor values (x0, preconditioner) as host numpy arrays."""
    return {
        **options,
        "x0": _numpy_option(options["x0"]),
        "preconditioner": _numpy_option(options["preconditioner"]),
    }


_PATHS = ("auto", "core", "torch")


def _on_device(path, A, lstsq, transpose_lstsq, solver):
    """True when the forward LSMR runs in torch operations (sparsegrad/_device.py); otherwise
    the C++ core solves, on host copies for tensors off the CPU (see sparse_generic_lstsq's
    `path`)."""
    if path not in _PATHS:
        raise ValueError(
            f"sparsegrad: argument 'path': expected one of {_PATHS}, got {path!r}"
        )
    if path == "torch" and solver != "lsmr":
        raise ValueError(
            f"sparsegrad: argument 'path': the torch path runs LSMR or the lstsq/transpose_lstsq "
            f"callables (a direct solver factors on the host: path='auto' or 'core'); got "
            f"solver={solver!r} with path='torch'"
        )
    device = path == "torch" or (path == "auto" and A.device.type != "cpu")
    return device and lstsq is None and transpose_lstsq is None


def _numpy_option(value):
    """A tensor option (x0, preconditioner) as a numpy array."""
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else value


def _gradient_like(A, values):
    """A sparse tensor with A's layout, index tensors (shared, not copied) and `values`."""
    if A.layout == torch.sparse_csr:
        return torch._sparse_csr_tensor_unsafe(
            A.crow_indices(), A.col_indices(), values, A.shape, dtype=values.dtype
        )
    indices = A._indices()
    if not A.is_coalesced() and values.numel() > 0:
        # The core gives every stored entry the full dL/dA_ij (the derivative with respect to
        # that entry's value). A torch gradient is a tensor, whose duplicates add up: share
        # the value among the duplicates of (i, j) so that the gradient tensor is dL/dA, and
        # the chain rule back to the values (torch gives each entry G[i, j]) stays exact.
        flat = indices[0] * A.shape[1] + indices[1]
        _, inverse, counts = torch.unique(flat, return_inverse=True, return_counts=True)
        values = values / counts[inverse].to(values.dtype)
    grad = torch._sparse_coo_tensor_unsafe(indices, values, A.shape)
    if A.is_coalesced():
        grad._coalesced_(True)
    return grad


class SparseGenericLstsq(torch.autograd.Function):
    """Autograd function: forward sparsegrad::lstsq, backward sparsegrad::lstsq_backward, with
    one core solver object (a direct solver's factorization serves both)."""

    @staticmethod
    def forward(ctx, A, B, lstsq, transpose_lstsq, options, on_device):
        A_, B_ = A.detach(), B.detach()
        dtype = np.float32 if A.dtype == torch.float32 else np.float64
        ctx.on_device = on_device
        if on_device:
            # The torch path (sparsegrad/_device.py): the solve on the tensors' device.
            device_options = {**options, "x0": None, "preconditioner": None}
            x0, preconditioner = options["x0"], options["preconditioner"]
            ctx.operators = _device.Operators(A_)  # A on the device, built once for both passes
            x, decisions = _device.lsmr(
                A_,
                B_.unsqueeze(1) if B.dim() == 1 else B_,
                device_options,
                None if x0 is None else torch.as_tensor(x0).to(A.device),
                None if preconditioner is None else torch.as_tensor(preconditioner).to(A.device),
                ctx.operators,
            )
            _report(decisions, stacklevel=4)
            # The backward runs on the device too (_device.lstsq_backward), with the forward's
            # error estimates of x.
            ctx.device_options = device_options
            records = decisions.diagnostics
            ctx.forward_error = records[-1].get("error", []) if records else []
            ctx.forward_solver = None
        else:
            # The C++ core, on host copies for tensors off the CPU; callables see A's device.
            matrix = _matrix(_host(A_))
            forward_solver = _torch_solver(lstsq, A_, vector=B.dim() == 1)
            core = _core_solver(
                dtype,
                options,
                forward_solver,
                _torch_solver(transpose_lstsq, A_, vector=B.dim() == 1),
            )
            x = torch.from_numpy(core.lstsq(matrix, _columns(_host(B_)))).to(A.device)
            _report(core, stacklevel=4)
            ctx.matrix = matrix  # numpy views of A's arrays; A itself is saved for the version check
            ctx.core, ctx.forward_solver = core, forward_solver
        if B.dim() == 1:
            x = x.reshape(-1)
        ctx.save_for_backward(A, B, x)
        return x

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            # create_graph=True: the gradients are computed outside autograd (in the C++ core)
            # and have no derivative of their own; returning them as constants would drop the
            # second-order terms of a loss silently.
            raise RuntimeError(
                "sparsegrad: double backward (create_graph=True) is not supported: the gradient "
                "of sparse_generic_lstsq is not itself differentiable; compute it with "
                "create_graph=False"
            )
        A, B, x = ctx.saved_tensors
        if A.shape[1] > A.shape[0]:
            # As the original (the core would return the minimum-norm gradient of a wide A).
            raise ValueError(
                f"sparsegrad: A should be a tall full-rank matrix. Got A.shape={tuple(A.shape)}"
            )
        # As the original: transpose_lstsq(A, grad) sees grad with x's shape, and lstsq in the
        # backward sees the (m, k) matrix gradB.
        if ctx.forward_solver is not None:
            ctx.forward_solver.vector = False
        if ctx.on_device:
            # The adjoint engine on the device: CRAIG and the gradient assembly in torch
            # operations there (sparsegrad/_device.py).
            def matrix(t):
                t = t.detach()
                return t.unsqueeze(1) if t.dim() == 1 else t

            dA_values, dB, _, decisions = _device.lstsq_backward(
                A.detach(), matrix(B), matrix(x), matrix(grad), ctx.device_options,
                ctx.forward_error,
                ctx.operators,
            )
            _report(decisions, stacklevel=2)
        else:
            dA_values, dB, _ = ctx.core.lstsq_backward(
                ctx.matrix, _columns(_host(B)), _columns(_host(x)), _columns(_host(grad))
            )
            _report(ctx.core, stacklevel=2)
            dA_values, dB = torch.from_numpy(dA_values), torch.from_numpy(dB)
        grad_A = None
        if ctx.needs_input_grad[0]:
            grad_A = _gradient_like(A.detach(), dA_values.to(A.device))
        grad_B = None
        if ctx.needs_input_grad[1]:
            grad_B = dB.to(A.device)
            if B.dim() == 1:
                grad_B = grad_B.reshape(-1)
        return grad_A, grad_B, None, None, None, None


@_with_options_doc
def sparse_generic_lstsq(
    A: torch.Tensor,
    B: torch.Tensor,
    lstsq: _Solver = None,
    transpose_lstsq: _Solver = None,
    *,
    solver: str = "lsmr",
    atol: Optional[float] = None,
    btol: Optional[float] = None,
    conlim: Optional[float] = None,
    maxiter: Optional[int] = None,
    damp: Optional[float] = None,
    x0: Any = None,
    column_scaling: Optional[bool] = None,
    preconditioner: Any = None,
    on_failure: str = "raise",
    path: str = "auto",
) -> torch.Tensor:
    r"""Sparse linear least squares with sparse-aware gradients (sparsegrad's C++ core).

    Solves :math:`\min_X \|AX - B\|_2` for a sparse COO or CSR tensor ``A`` of shape
    ``(m, n)`` (float32 or float64, any device) and a dense ``B`` of shape ``(m,)`` or ``(m, k)``;
    returns ``X`` of shape ``(n,)`` or ``(n, k)``. In backward (Golub & Pereyra 1973; A tall
    with full column rank, or any A with damp > 0) ``A.grad`` is a sparse tensor with A's layout
    and pattern (for an uncoalesced COO tensor A's own indices, the duplicates of an (i, j)
    sharing dL/dA_ij so that the gradient tensor is exact) and ``B.grad`` is dense.

    Parameters
    ----------
    lstsq, transpose_lstsq : callable, optional
        ``lstsq(A, B) -> X`` and ``transpose_lstsq(A, G) -> (A^T)^+ G`` called with torch
        tensors exactly as torchsparsegradutils calls them (forward: ``lstsq(A, B)``;
        backward: ``transpose_lstsq(A, grad)`` then ``lstsq(A, gradB)`` with gradB of shape
        ``(m, k)``). Default: the solver named by ``solver``, and LSMR for the transposed
        solve where it is needed.
    solver : str, default "lsmr"
        {solvers}
    {options}
    x0, preconditioner
        May be tensors.
    path : {"auto", "core", "torch"}, default "auto"
        Where the forward solve runs. "core": the C++ core (on host copies for tensors off the
        CPU). "torch": LSMR in torch operations on the tensors' own device, every decision
        taken by the C++ core (one device-to-host transfer of a few numbers per iteration);
        with ``lstsq``/``transpose_lstsq`` the callables run instead, on A's device; direct
        solvers are refused. "auto": "core" for CPU tensors, "torch" otherwise (a direct
        solver: "core"). The backward runs where the forward ran: after the torch path, CRAIG
        and the gradient assembly on the device (the C++ adjoint engine taking the decisions);
        otherwise in the C++ core, callables on A's device (docs/pytorch.md).

    The default ``on_failure="raise"`` differs from the original, which returned unconverged
    results silently (its own float32 docstring example stops at LSMR's default iteration
    limit min(m, n)): pass a larger ``maxiter`` or ``on_failure="warn"`` for those.

    Raises
    ------
    TypeError
        ``A`` is not a sparse COO/CSR tensor of float32 or float64, or ``B`` is not a dense
        tensor of A's dtype on A's device.
    ValueError
        Dimension mismatch, non-finite values, an option out of range, or (in backward) a wide
        or rank-deficient A.
    RuntimeError
        A solver fails or returns an unexpected shape (``sparsegrad.SolverError``), or an
        iterative solve does not converge (``sparsegrad.ConvergenceError``, with
        ``on_failure="raise"``).
    """
    arguments = locals()
    _check_inputs(A, B)
    if (lstsq is not None or transpose_lstsq is not None) and solver != "lsmr":
        raise ValueError(
            f"sparsegrad: argument 'solver': the callables lstsq/transpose_lstsq replace the "
            f"named solver, got both and solver={solver!r}"
        )
    on_device = _on_device(path, A, lstsq, transpose_lstsq, solver)
    options = _options(arguments, solver=solver)
    if not on_device:
        options = _host_options(options)
    return SparseGenericLstsq.apply(A, B, lstsq, transpose_lstsq, options, on_device)
