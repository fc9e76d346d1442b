// Check the gradient of a least-squares solve against finite differences before trusting it:
// sparsegrad::gradcheck on a shipped real matrix, undamped and damped (dL/dλ included), and on a
// wide problem (the matrix transposed).
//
//   gradcheck [matrix.mtx]      (default data/lsq/well1033.mtx)
//
// Finite differences in double carry a rounding error of about ε_solve·|L|/h, so individual
// entries of a large gradient can differ by 1e-4 relative; the measure that matters is the
// largest error relative to the largest gradient entry (scaled_error), expected near 1e-7.
#include <cstdio>
#include <sparsegrad/sparsegrad.hpp>
#include <string>

namespace {

void report(const char* what, const sparsegrad::GradcheckResult& r) {
  std::printf("%-28s %3zu values checked, max |analytic - numeric| = %.2e at %s\n", what,
              r.entries.size(), r.max_abs_error, r.max_abs_where.c_str());
  std::printf("%-28s max relative error %.2e at %s; scaled error %.2e -> %s\n", "", r.max_rel_error,
              r.max_rel_where.c_str(), r.scaled_error(),
              r.scaled_error() <= 1e-5 ? "PASSED" : "FAILED");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string path = argc > 1 ? argv[1] : std::string(SPARSEGRAD_DATA_DIR) + "/well1033.mtx";
  using Csr = Eigen::SparseMatrix<double, Eigen::RowMajor>;
  const Csr A = sparsegrad::to_csr(sparsegrad::read_matrix_market_file<double>(path));
  std::printf("A: %lld x %lld, %lld stored entries (%s)\n", (long long)A.rows(),
              (long long)A.cols(), (long long)A.nonZeros(), path.c_str());

  // A right-hand side and loss weights (L = sum(dX .* X)).
  Eigen::MatrixXd B(A.rows(), 2), dX(A.cols(), 2);
  for (Eigen::Index i = 0; i < B.rows(); ++i)
    B(i, 0) = std::cos(0.37 * double(i)), B(i, 1) = std::sin(0.11 * double(i));
  for (Eigen::Index i = 0; i < dX.rows(); ++i)
    dX(i, 0) = 1.0, dX(i, 1) = 1.0 + 0.5 * std::sin(double(i));

  // Finite differences need accurate forward solves: tight tolerances.
  sparsegrad::LsmrOptions<double> options;
  options.atol = options.btol = 1e-14;
  options.conlim = 1e16;
  options.maxiter = 100000;
  sparsegrad::Lsmr<double> solver(options);

  sparsegrad::GradcheckOptions check;  // 20 entries of A and 20 of B, sampled
  report("undamped", sparsegrad::gradcheck(A, B, dX, solver, check));

  solver.options.damp = 0.5;
  report("damped (lambda = 0.5)", sparsegrad::gradcheck(A, B, dX, solver, check));

  solver.options.damp = 0;
  const Csr W = A.transpose();  // wide: minimum-norm solution, null-space term in dA
  Eigen::MatrixXd Bw = dX, dXw = B;
  report("wide (A transposed)", sparsegrad::gradcheck(W, Bw, dXw, solver, check));
  return 0;
}
