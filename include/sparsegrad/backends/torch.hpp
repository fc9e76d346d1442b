// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_BACKENDS_TORCH_HPP
#define SPARSEGRAD_BACKENDS_TORCH_HPP

/// \file torch.hpp
/// LibTorch integration (optional; needs libtorch-dev): `sparsegrad::torch_lstsq(A, B)` is a
/// differentiable X = argmin ‖AX − B‖ on torch tensors, a `torch::autograd::Function` whose
/// forward calls `sparsegrad::lstsq` and whose backward calls `sparsegrad::lstsq_backward`.
///
/// A: sparse COO or CSR tensor, float32 or float64, CPU, 2-D (m x n). B: dense (m) or (m, k)
/// of A's dtype. X: (n) or (n, k). In backward, A's gradient is a sparse tensor with A's
/// layout and A's own index tensors (shared, not copied); B's gradient is dense.
///
/// What is copied to reach Eigen:
///   - CSR with int64 indices: nothing; Eigen::Map<const SparseMatrix<Scalar, RowMajor, int64_t>>
///     over crow_indices, col_indices and values (int32 indices are widened once to int64).
///   - coalesced COO (sorted by row, then column, no duplicates): only a row pointer of m + 1
///     entries is built; the column indices and values are mapped as CSR.
///   - uncoalesced COO: row, col and values are copied once into a CooMatrix<Scalar, int64_t>.
///   - B, X and dX are read through Eigen maps of the (contiguous) tensors; lstsq and
///     lstsq_backward make their own dense copies as they always do. The library returns the
///     gradient of a mapped A as an owning SparseMatrix; only its values reach the result.
///
/// Solver choice passes through: `torch_lstsq(A, B, options)` with `LsmrOptions<double>`
/// (converted to the tensor's Scalar), or `torch_lstsq(A, B, solver[, transpose_solver])`
/// with any sparsegrad solver functor. The functor object is kept in the autograd graph and
/// used by both passes (so a factorization made in forward can be reused in backward). It is
/// called with A as `Eigen::Map<const SparseMatrix<Scalar, RowMajor, int64_t>>` or
/// `CooMatrix<Scalar, int64_t>`; a functor tied to one Scalar (e.g. `Lsmr<double>`) throws
/// std::invalid_argument for tensors of the other dtype, a generic one serves both.
///
/// Errors: as the library (std::invalid_argument for bad tensors and shapes, std::domain_error
/// in backward for a rank-deficient A (column rank; row rank for a wide A), solver_error /
/// convergence_error from solvers).

#include <ATen/ATen.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstdint>
#include <type_traits>
#include <utility>

#include "../lstsq.hpp"

namespace sparsegrad {

namespace detail {

template <class Scalar>
using TorchCsrMap = Eigen::Map<const Eigen::SparseMatrix<Scalar, Eigen::RowMajor, std::int64_t>>;
template <class Scalar>
using TorchCoo = CooMatrix<Scalar, std::int64_t>;
template <class Scalar>
using TorchRowMajor = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// LSMR with options given once in double, for whichever dtype the tensors have.
struct TorchLsmr {
  Lsmr<float> f;
  Lsmr<double> d;
  explicit TorchLsmr(const LsmrOptions<double>& o) : d(o) {
    // float tensors with a preconditioner: refused by converted_options when used.
    if (!o.preconditioner)
      f.options = converted_options<float>(o, "torch_lstsq");
    else
      preconditioned = true;
  }
  bool preconditioned = false;
};

/// Marks "no transpose solver given": the backward then uses the solver alone.
struct NoTransposeSolver {};

template <class Scalar, class S>
S& solver_for(S& s) {
  return s;
}
template <class Scalar>
Lsmr<Scalar>& solver_for(TorchLsmr& s) {
  if constexpr (std::is_same<Scalar, float>::value) {
    if (s.preconditioned) (void)converted_options<float>(s.d.options, "torch_lstsq");  // throws
    return s.f;
  } else {
    return s.d;
  }
}

/// False when the solver is tied to another Scalar (it has a Matrix typedef of that Scalar).
template <class S, class Scalar, class = void>
struct serves_scalar : std::true_type {};
template <class S, class Scalar>
struct serves_scalar<S, Scalar, std::void_t<typename S::Matrix::Scalar>>
    : std::is_same<typename S::Matrix::Scalar, Scalar> {};

/// The solvers of one call, owned by the autograd graph.
template <class Solver, class TransposeSolver>
struct TorchSolvers : torch::CustomClassHolder {
  TorchSolvers(Solver s, TransposeSolver t) : solver(std::move(s)), transpose(std::move(t)) {}
  Solver solver;
  TransposeSolver transpose;
};

inline void torch_require(bool ok, const char* name, const std::string& expected,
                          const std::string& got) {
  if (!ok) throw_invalid("torch_lstsq", name, expected, got);
}

inline std::string torch_describe(const at::Tensor& t) {
  return concat(t.layout(), " ", t.scalar_type(), " tensor on ", t.device(), " of shape ",
                t.sizes());
}

inline void check_torch_inputs(const at::Tensor& A, const at::Tensor& B) {
  torch_require(A.defined() && (A.layout() == at::kSparse || A.layout() == at::kSparseCsr), "A",
                "a sparse COO or CSR tensor", A.defined() ? torch_describe(A) : "undefined");
  torch_require(A.scalar_type() == at::kFloat || A.scalar_type() == at::kDouble, "A",
                "float32 or float64", torch_describe(A));
  torch_require(A.device().is_cpu(), "A", "a CPU tensor", torch_describe(A));
  torch_require(A.dim() == 2 && A.dense_dim() == 0, "A", "a 2-D matrix with scalar values",
                torch_describe(A));
  torch_require(B.defined() && B.layout() == at::kStrided, "B", "a dense tensor",
                B.defined() ? torch_describe(B) : "undefined");
  torch_require(B.scalar_type() == A.scalar_type() && B.device().is_cpu(), "B",
                concat("a CPU tensor of A's dtype ", A.scalar_type()), torch_describe(B));
  torch_require((B.dim() == 1 || B.dim() == 2) && B.size(0) == A.size(0), "B",
                concat("shape (", A.size(0), ") or (", A.size(0), ", k)"), torch_describe(B));
}

/// Calls f(A_eigen) with the Eigen view of a sparse tensor (see the file comment).
template <class Scalar, class F>
decltype(auto) with_eigen_matrix(const at::Tensor& A, F&& f) {
  const Eigen::Index m = A.size(0), n = A.size(1);
  if (A.layout() == at::kSparseCsr || A.is_coalesced()) {
    at::Tensor outer, inner, values;
    if (A.layout() == at::kSparseCsr) {
      outer = A.crow_indices().to(at::kLong).contiguous();
      inner = A.col_indices().to(at::kLong).contiguous();
      values = A.values().contiguous();
    } else {
      // Coalesced COO: entries sorted by (row, column), no duplicates, i.e. CSR order.
      const at::Tensor indices = A._indices();
      outer = at::zeros({m + 1}, indices.options());
      if (A._nnz() > 0) outer.narrow(0, 1, m).copy_(at::cumsum(at::bincount(indices[0], {}, m), 0));
      inner = indices[1].contiguous();
      values = A._values().contiguous();
    }
    const TorchCsrMap<Scalar> map(m, n, values.numel(), outer.data_ptr<std::int64_t>(),
                                  inner.data_ptr<std::int64_t>(), values.data_ptr<Scalar>());
    return f(map);
  }
  const at::Tensor indices = A._indices().contiguous(), values = A._values().contiguous();
  const Eigen::Index nnz = values.numel();
  TorchCoo<Scalar> coo;
  coo.rows = m, coo.cols = n;
  coo.row = Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(
      indices.data_ptr<std::int64_t>(), nnz);
  coo.col = Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(
      indices.data_ptr<std::int64_t>() + nnz, nnz);
  coo.values =
      Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(values.data_ptr<Scalar>(), nnz);
  return f(static_cast<const TorchCoo<Scalar>&>(coo));
}

/// A contiguous (rows) or (rows, k) tensor as an Eigen (rows x k) map.
template <class Scalar>
Eigen::Map<const TorchRowMajor<Scalar>> torch_columns(const at::Tensor& t) {
  return {t.data_ptr<Scalar>(), t.size(0), t.dim() == 1 ? 1 : t.size(1)};
}

template <class Scalar>
at::Tensor to_torch(const DenseMatrix<Scalar>& M, bool vector) {
  at::Tensor out = at::empty({M.rows(), M.cols()},
                             at::TensorOptions().dtype(c10::CppTypeToScalarType<Scalar>::value));
  Eigen::Map<TorchRowMajor<Scalar>>(out.data_ptr<Scalar>(), M.rows(), M.cols()) = M;
  return vector ? out.reshape({M.rows()}) : out;
}

template <class Scalar, class Index>
const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>& gradient_values(const CooMatrix<Scalar, Index>& G) {
  return G.values;
}
template <class Scalar, class Index>
Eigen::Map<const Eigen::Matrix<Scalar, Eigen::Dynamic, 1>> gradient_values(
    const Eigen::SparseMatrix<Scalar, Eigen::RowMajor, Index>& G) {
  // A copy of a compressed Map keeps the Map's entry order.
  return {G.valuePtr(), G.nonZeros()};
}

/// A sparse tensor with A's layout and index tensors and the given values (A's entry order).
inline at::Tensor torch_gradient_like(const at::Tensor& A, at::Tensor values) {
  if (A.layout() == at::kSparseCsr)
    return at::_sparse_csr_tensor_unsafe(A.crow_indices(), A.col_indices(), values, A.sizes(),
                                         values.options().layout(at::kSparseCsr));
  const at::Tensor indices = A._indices();
  if (!A.is_coalesced() && values.numel() > 0) {
    // lstsq_backward gives each stored entry the full dL/dA_ij; a torch gradient is a tensor
    // whose duplicates add up, so duplicates of an (i, j) share that value.
    const at::Tensor flat = indices[0] * A.size(1) + indices[1];
    const auto unique = at::_unique2(flat, /*sorted=*/true, /*return_inverse=*/true,
                                     /*return_counts=*/true);
    values = values / std::get<2>(unique).index_select(0, std::get<1>(unique)).to(values.dtype());
  }
  at::Tensor grad = at::_sparse_coo_tensor_unsafe(indices, values, A.sizes());
  if (A.is_coalesced()) grad._coalesced_(true);
  return grad;
}

template <class Scalar, class Solvers>
at::Tensor torch_forward(const at::Tensor& A, const at::Tensor& B, Solvers& solvers) {
  auto& solver = solver_for<Scalar>(solvers.solver);
  using SolverType = std::decay_t<decltype(solver)>;
  if constexpr (!serves_scalar<SolverType, Scalar>::value) {
    throw_invalid("torch_lstsq", "solver", "a solver for this dtype",
                  concat("a solver of another Scalar for ", A.scalar_type(), " tensors"));
  } else {
    const at::Tensor Bc = B.contiguous();
    const DenseMatrix<Scalar> X = with_eigen_matrix<Scalar>(A, [&](const auto& Ae) {
      return DenseMatrix<Scalar>(lstsq(Ae, torch_columns<Scalar>(Bc), solver));
    });
    return to_torch(X, B.dim() == 1);
  }
}

template <class Scalar, class Solvers>
std::pair<at::Tensor, at::Tensor> torch_backward(const at::Tensor& A, const at::Tensor& B,
                                                 const at::Tensor& X, const at::Tensor& dX,
                                                 Solvers& solvers) {
  auto& solver = solver_for<Scalar>(solvers.solver);
  auto& transpose = solver_for<Scalar>(solvers.transpose);
  using SolverType = std::decay_t<decltype(solver)>;
  using TransposeType = std::decay_t<decltype(transpose)>;
  if constexpr (!serves_scalar<SolverType, Scalar>::value ||
                !serves_scalar<TransposeType, Scalar>::value) {
    throw_invalid("torch_lstsq", "solver", "a solver for this dtype",
                  concat("a solver of another Scalar for ", A.scalar_type(), " tensors"));
  } else {
    const at::Tensor Bc = B.contiguous(), Xc = X.contiguous(), dXc = dX.contiguous();
    at::Tensor dA_values = at::empty({A._nnz()}, A.scalar_type());
    DenseMatrix<Scalar> dB;
    with_eigen_matrix<Scalar>(A, [&](const auto& Ae) {
      const auto Bm = torch_columns<Scalar>(Bc), Xm = torch_columns<Scalar>(Xc),
                 dXm = torch_columns<Scalar>(dXc);
      auto store = [&](auto&& g) {
        Eigen::Map<Eigen::Matrix<Scalar, Eigen::Dynamic, 1>>(
            dA_values.data_ptr<Scalar>(), dA_values.numel()) = gradient_values(g.A);
        dB = std::move(g.B);
      };
      if constexpr (std::is_same<TransposeType, NoTransposeSolver>::value)
        store(lstsq_backward(Ae, Bm, Xm, dXm, solver));
      else
        store(lstsq_backward(Ae, Bm, Xm, dXm, solver, transpose));
      return 0;
    });
    return {torch_gradient_like(A, dA_values), to_torch(dB, B.dim() == 1)};
  }
}

}  // namespace detail

/// The autograd function behind `torch_lstsq`: forward `lstsq`, backward `lstsq_backward`.
/// `Solvers` is a `detail::TorchSolvers<Solver, TransposeSolver>`.
template <class Solvers>
struct TorchLstsqFunction : torch::autograd::Function<TorchLstsqFunction<Solvers>> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& A,
                            const at::Tensor& B, const c10::intrusive_ptr<Solvers>& solvers) {
    const at::Tensor A_ = A.detach(), B_ = B.detach();
    at::Tensor X = A.scalar_type() == at::kFloat ? detail::torch_forward<float>(A_, B_, *solvers)
                                                 : detail::torch_forward<double>(A_, B_, *solvers);
    ctx->saved_data["solvers"] = c10::IValue::make_capsule(solvers);
    ctx->save_for_backward({A, B, X});
    return X;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor A = saved[0].detach(), B = saved[1].detach(), X = saved[2].detach();
    auto solvers =
        c10::static_intrusive_pointer_cast<Solvers>(ctx->saved_data["solvers"].toCapsule());
    const at::Tensor dX = grads[0].defined() ? grads[0].detach() : at::zeros_like(X);
    auto g = A.scalar_type() == at::kFloat ? detail::torch_backward<float>(A, B, X, dX, *solvers)
                                           : detail::torch_backward<double>(A, B, X, dX, *solvers);
    return {ctx->needs_input_grad(0) ? g.first : at::Tensor(),
            ctx->needs_input_grad(1) ? g.second : at::Tensor(), at::Tensor()};
  }
};

/// Differentiable X = argmin ‖AX − B‖ with `solver` for the forward solve and the backward
/// (see lstsq_backward for how a solver is used there), and `transpose_solver` for the
/// backward's transposed solve (Y = (Aᵀ)⁺G), the seed's two-solve form.
template <class Solver, class TransposeSolver>
at::Tensor torch_lstsq(const at::Tensor& A, const at::Tensor& B, Solver solver,
                       TransposeSolver transpose_solver) {
  detail::check_torch_inputs(A, B);
  using Solvers = detail::TorchSolvers<Solver, TransposeSolver>;
  return TorchLstsqFunction<Solvers>::apply(
      A, B, c10::make_intrusive<Solvers>(std::move(solver), std::move(transpose_solver)));
}

/// Differentiable X = argmin ‖AX − B‖ with any sparsegrad solver functor.
template <class Solver>
at::Tensor torch_lstsq(const at::Tensor& A, const at::Tensor& B, Solver solver) {
  return torch_lstsq(A, B, std::move(solver), detail::NoTransposeSolver{});
}

/// Differentiable X = argmin ‖AX − B‖ by LSMR with `options` (used for float32 tensors too).
inline at::Tensor torch_lstsq(const at::Tensor& A, const at::Tensor& B,
                              const LsmrOptions<double>& options) {
  return torch_lstsq(A, B, detail::TorchLsmr(options));
}

/// Differentiable X = argmin ‖AX − B‖ by LSMR with default options.
inline at::Tensor torch_lstsq(const at::Tensor& A, const at::Tensor& B) {
  return torch_lstsq(A, B, LsmrOptions<double>{});
}

}  // namespace sparsegrad

#endif  // SPARSEGRAD_BACKENDS_TORCH_HPP
