// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_PRECONDITIONER_HPP
#define SPARSEGRAD_PRECONDITIONER_HPP

/// \file preconditioner.hpp
/// Right preconditioners for LSMR: with an n x n nonsingular M, LSMR solves min ‖A M y − b‖ and
/// returns x = M y. For a tall A of full column rank the solution x is the same as without M;
/// only the number of iterations changes (LSMR's convergence depends on the singular values of
/// A M). For a wide or rank-deficient A the minimum-norm property is lost (x = M y with y of
/// minimum norm is not x of minimum norm) and with damping the problem changes (λ‖y‖ is not
/// λ‖x‖): `Lsmr` and `lsmr()` refuse a preconditioner in both cases.
///
/// Set one in LsmrOptions: `options.column_scaling = true` (M = diag(1/‖A e_j‖), the built-in
/// choice, which removes bad column scaling) or `options.preconditioner = ...` (any object
/// derived from Preconditioner, or `make_preconditioner(apply, apply_adjoint)` from two
/// callables).

#include <Eigen/Core>
#include <memory>
#include <utility>

namespace sparsegrad {

/// An n x n right preconditioner M: apply gives M V, apply_adjoint gives Mᴴ V (V is n x k).
template <class Scalar_>
class Preconditioner {
 public:
  using Scalar = Scalar_;
  using Matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

  virtual ~Preconditioner() = default;
  /// n, the number of columns of A.
  virtual Eigen::Index size() const = 0;
  /// Y = M V (Y is resized to n x k).
  virtual void apply(const Matrix& V, Matrix& Y) const = 0;
  /// Y = Mᴴ V (Y is resized to n x k).
  virtual void apply_adjoint(const Matrix& V, Matrix& Y) const = 0;
};

/// M = diag(d).
template <class Scalar>
class DiagonalPreconditioner : public Preconditioner<Scalar> {
 public:
  using typename Preconditioner<Scalar>::Matrix;
  using Vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

  explicit DiagonalPreconditioner(Vector d) : d_(std::move(d)) {}

  Eigen::Index size() const override { return d_.size(); }
  void apply(const Matrix& V, Matrix& Y) const override { Y = d_.asDiagonal() * V; }
  void apply_adjoint(const Matrix& V, Matrix& Y) const override {
    Y = d_.conjugate().asDiagonal() * V;
  }
  /// The diagonal d.
  const Vector& diagonal() const { return d_; }

 private:
  Vector d_;
};

/// A preconditioner from two callables `apply(const Matrix& V, Matrix& Y)` (Y = M V) and
/// `apply_adjoint(const Matrix& V, Matrix& Y)` (Y = Mᴴ V) on n x k blocks.
template <class Scalar, class Apply, class ApplyAdjoint>
class FunctionPreconditioner : public Preconditioner<Scalar> {
 public:
  using typename Preconditioner<Scalar>::Matrix;

  FunctionPreconditioner(Eigen::Index n, Apply apply, ApplyAdjoint apply_adjoint)
      : n_(n), apply_(std::move(apply)), apply_adjoint_(std::move(apply_adjoint)) {}

  Eigen::Index size() const override { return n_; }
  void apply(const Matrix& V, Matrix& Y) const override { apply_(V, Y); }
  void apply_adjoint(const Matrix& V, Matrix& Y) const override { apply_adjoint_(V, Y); }

 private:
  Eigen::Index n_;
  Apply apply_;
  ApplyAdjoint apply_adjoint_;
};

/// Wraps two callables as a shared Preconditioner, ready for LsmrOptions::preconditioner.
template <class Scalar, class Apply, class ApplyAdjoint>
std::shared_ptr<const Preconditioner<Scalar>> make_preconditioner(Eigen::Index n, Apply apply,
                                                                  ApplyAdjoint apply_adjoint) {
  return std::make_shared<FunctionPreconditioner<Scalar, Apply, ApplyAdjoint>>(
      n, std::move(apply), std::move(apply_adjoint));
}

/// The operator A M (rows(A) x n) over any operator A, for the Krylov kernels.
template <class Operator, class Scalar>
class PreconditionedOperator {
 public:
  using Matrix = typename Preconditioner<Scalar>::Matrix;

  PreconditionedOperator(const Operator& op, const Preconditioner<Scalar>& M) : op_(op), M_(M) {}

  Eigen::Index rows() const { return op_.rows(); }
  Eigen::Index cols() const { return M_.size(); }

  /// Y = A (M V)
  template <class In, class Out>
  void apply(const In& V, Out&& Y) const {
    in_ = V;
    M_.apply(in_, mid_);
    op_.apply(mid_, std::forward<Out>(Y));
  }

  /// Y = Mᴴ (Aᴴ U)
  template <class In, class Out>
  void apply_adjoint(const In& U, Out&& Y) const {
    mid_.resize(op_.cols(), U.cols());
    op_.apply_adjoint(U, mid_);
    M_.apply_adjoint(mid_, out_);
    Y = out_;
  }

 private:
  const Operator& op_;
  const Preconditioner<Scalar>& M_;
  mutable Matrix in_, mid_, out_;  // workspace, reused across iterations
};

}  // namespace sparsegrad

#endif  // SPARSEGRAD_PRECONDITIONER_HPP
