// Solver functors that misbehave (throw, return the wrong shape or non-finite values), and a
// correct dense transpose solver to pair with them, for the checks of what lstsq and
// lstsq_backward do with a user's solver. Each receives A as the user passed it and B as m x k.
#ifndef SPARSEGRAD_MISBEHAVING_SOLVERS_HPP
#define SPARSEGRAD_MISBEHAVING_SOLVERS_HPP

#include <sparsegrad/sparsegrad.hpp>
#include <stdexcept>

#include "test_support.hpp"

namespace testing {

struct ThrowsRuntime {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw std::runtime_error("factorization failed: out of memory (from the user's solver)");
  }
};
struct ThrowsLogic {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw std::logic_error("solver misconfigured");
  }
};
struct ThrowsConvergence {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    sparsegrad::ConvergenceDiagnostics d;
    d.istop = {7}, d.itn = {3}, d.normr = {1.5}, d.normar = {0.25}, d.norma = {2}, d.conda = {9};
    d.normx = {4};
    throw sparsegrad::convergence_error("my solver gave up after 3 iterations", d);
  }
};
struct ThrowsSolverError {
  template <class A, class B>
  B operator()(const A&, const B&) const {
    throw sparsegrad::solver_error("custom solver_error from the user");
  }
};
/// Returns an (n + extra_rows) x (k + extra_cols) matrix of ones, or NaN/Inf at (0, 0).
template <class Scalar>
struct ReturnsShape {
  Eigen::Index extra_rows = 0, extra_cols = 0;
  Scalar first = Scalar(1);
  template <class A>
  Dense<Scalar> operator()(const A& a, const Dense<Scalar>& B) const {
    Dense<Scalar> out =
        Dense<Scalar>::Ones(sparsegrad::detail::cols_of(a) + extra_rows, B.cols() + extra_cols);
    if (out.size() > 0) out(0, 0) = first;
    return out;
  }
};
/// Returns an n-vector whatever k is.
template <class Scalar>
struct ReturnsVector {
  template <class A>
  Eigen::Matrix<Scalar, Eigen::Dynamic, 1> operator()(const A& a, const Dense<Scalar>&) const {
    return Eigen::Matrix<Scalar, Eigen::Dynamic, 1>::Ones(sparsegrad::detail::cols_of(a));
  }
};
/// A correct transpose solver (dense minimum-norm solve of Aᵀ Y = G), for the two-solve form.
template <class Scalar>
struct DenseTransposeSolver {
  template <class A>
  Dense<Scalar> operator()(const A& a, const Dense<Scalar>& G) const {
    const Dense<double> D = testing::dense(a).template cast<double>();
    return testing::dense_lstsq(D.transpose(), G.template cast<double>()).template cast<Scalar>();
  }
};
/// A solver with solve_normal that returns the wrong shape.
template <class Scalar>
struct BadNormalSolver {
  template <class A>
  Dense<Scalar> operator()(const A& a, const Dense<Scalar>& B) const {
    return Dense<Scalar>::Zero(sparsegrad::detail::cols_of(a), B.cols());
  }
  template <class A>
  Dense<Scalar> solve_normal(const A& a, const Dense<Scalar>& G) const {
    return Dense<Scalar>::Zero(sparsegrad::detail::cols_of(a), G.cols() + 1);
  }
};

}  // namespace testing

#endif  // SPARSEGRAD_MISBEHAVING_SOLVERS_HPP
