// libFuzzer target: arbitrary bytes as Matrix Market text -> read_matrix_market (float and
// double) and read_dense_matrix_market; a matrix that reads and is small then goes through
// lstsq + lstsq_backward. The readers may only throw std::invalid_argument, and what they
// return must be valid: indices in range, equal lengths, finite values.
// See fuzz_support.hpp for the contract checked; build and run with scripts/run-fuzz.sh.
#include <sstream>
#include <string>

#include "fuzz_support.hpp"

namespace {

constexpr Eigen::Index kMaxSolveDim = 64;
constexpr Eigen::Index kMaxSolveEntries = 2000;

template <class Scalar>
void read_sparse(const std::string& text) {
  std::istringstream stream(text);
  sparsegrad::CooMatrix<Scalar> A;
  try {
    A = sparsegrad::read_matrix_market<Scalar>(stream);
  } catch (const std::invalid_argument&) {
    return;
  }
  // What the reader returns passes validation (never throws here).
  sparsegrad::validate(A, "fuzz", "A from read_matrix_market");
  if (A.rows > kMaxSolveDim || A.cols > kMaxSolveDim || A.values.size() > kMaxSolveEntries) return;
  sparsegrad::Lsmr<Scalar> solver;
  solver.options.maxiter = 50;
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> b =
      Eigen::Matrix<Scalar, Eigen::Dynamic, 1>::LinSpaced(A.rows, Scalar(-1), Scalar(2));
  const Eigen::Matrix<Scalar, Eigen::Dynamic, 1> dx =
      Eigen::Matrix<Scalar, Eigen::Dynamic, 1>::Ones(A.cols);
  const auto copy = A;
  fuzz::run_checked(A, b, dx, solver, false);
  fuzz::require(fuzz::same_matrix(A, copy), "A unchanged");
}

template <class Scalar>
void read_dense(const std::string& text) {
  std::istringstream stream(text);
  try {
    const auto M = sparsegrad::read_dense_matrix_market<Scalar>(stream);
    fuzz::require(M.rows() >= 0 && M.cols() >= 0, "dense shape");
    fuzz::require(fuzz::all_finite(M), "dense values finite");
  } catch (const std::invalid_argument&) {
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  read_sparse<double>(text);
  read_sparse<float>(text);
  read_dense<double>(text);
  read_dense<float>(text);
  return 0;
}
