// SPDX-License-Identifier: Apache-2.0
#ifndef SPARSEGRAD_DETAIL_CHECKS_HPP
#define SPARSEGRAD_DETAIL_CHECKS_HPP

// Argument checks shared by every entry point. Every message has the same form:
//   sparsegrad: <function>: argument '<name>': expected <what>, got <what>
// so a user can see at once which argument is wrong and how.

#include <Eigen/Core>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

namespace sparsegrad {
namespace detail {

/// The dense n x k matrix type of the solvers and the adjoint.
template <class Scalar>
using DenseMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;

/// The type lstsq returns for a right-hand side of type BDerived: a vector when B is a
/// compile-time vector, else a dense matrix.
template <class BDerived>
using solution_t =
    std::conditional_t<BDerived::ColsAtCompileTime == 1,
                       Eigen::Matrix<typename BDerived::Scalar, Eigen::Dynamic, 1>,
                       Eigen::Matrix<typename BDerived::Scalar, Eigen::Dynamic, Eigen::Dynamic>>;

/// A dense n x k result in the shape of Result (its first column for a vector type).
template <class Result>
Result shape_like(DenseMatrix<typename Result::Scalar>&& M) {
  if constexpr (Result::ColsAtCompileTime == 1) {
    return M.col(0);
  } else {
    return std::move(M);
  }
}

/// Streams any number of values into one string.
template <class... Parts>
std::string concat(const Parts&... parts) {
  std::ostringstream out;
  out.precision(17);
  (out << ... << parts);
  return out.str();
}

inline std::string shape_string(Eigen::Index rows, Eigen::Index cols) {
  return concat(rows, "x", cols);
}

[[noreturn]] inline void throw_invalid(const char* where, const char* name,
                                       const std::string& expected, const std::string& got) {
  throw std::invalid_argument(
      concat("sparsegrad: ", where, ": argument '", name, "': expected ", expected, ", got ", got));
}

[[noreturn]] inline void throw_domain(const char* where, const char* name,
                                      const std::string& expected, const std::string& got) {
  throw std::domain_error(
      concat("sparsegrad: ", where, ": argument '", name, "': expected ", expected, ", got ", got));
}

template <class Scalar>
bool is_finite(const Scalar& value) {
  using std::isfinite;
  return isfinite(Eigen::numext::real(value)) && isfinite(Eigen::numext::imag(value));
}

/// Throws std::invalid_argument naming the first NaN/Inf entry of a dense matrix.
template <class Derived>
void require_finite(const char* where, const char* name, const Eigen::DenseBase<Derived>& M) {
  for (Eigen::Index j = 0; j < M.cols(); ++j)
    for (Eigen::Index i = 0; i < M.rows(); ++i)
      if (!is_finite(M.coeff(i, j)))
        throw_invalid(where, name, "finite values",
                      concat(M.coeff(i, j), " at (", i, ", ", j, ")"));
}

/// Throws std::invalid_argument unless M is rows x cols.
template <class Derived>
void require_shape(const char* where, const char* name, const Eigen::EigenBase<Derived>& M,
                   Eigen::Index rows, Eigen::Index cols) {
  if (M.rows() != rows || M.cols() != cols)
    throw_invalid(where, name, shape_string(rows, cols), shape_string(M.rows(), M.cols()));
}

}  // namespace detail
}  // namespace sparsegrad

#endif  // SPARSEGRAD_DETAIL_CHECKS_HPP
