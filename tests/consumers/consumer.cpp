// SPDX-License-Identifier: Apache-2.0
// A program a consumer of sparsegrad would write, built against an installed package
// (find_package) or a source tree (add_subdirectory) by scripts/check-consumers.sh.
//
// A = [a1 a2] with orthogonal columns a1 = (1, 1, 0, 0), a2 = (0, 0, 2, 2), b = (1, 3, 2, 6):
// the least-squares solution is x_j = a_j·b / ‖a_j‖², i.e. x = (2, 2), and for L = w·x with
// w = (1, 1) the gradient is dL/db = A (AᵀA)⁻¹ w = (1/2, 1/2, 1/4, 1/4). Both are exact up to
// rounding (a few ulps of ‖x‖ = 2.8 and ‖dL/db‖ = 0.8 for a direct solver; LSMR, here with
// atol = btol = 1e-12, converges in 2 iterations, one per distinct singular value): 1e-9 leaves
// room for both and still catches any wrong solve.
#include <cstdio>
#include <sparsegrad/sparsegrad.hpp>
#include <string>
#ifdef CONSUMER_WITH_SUITESPARSE
#include <sparsegrad/backends/suitesparse.hpp>
#endif

#ifndef CONSUMER_EXPECTED_VERSION
#error "CONSUMER_EXPECTED_VERSION: the version CMake found, as a string"
#endif

int main() {
  if (std::string(SPARSEGRAD_VERSION_STRING) != CONSUMER_EXPECTED_VERSION) {
    std::printf("version.hpp says %s, the CMake package %s\n", SPARSEGRAD_VERSION_STRING,
                CONSUMER_EXPECTED_VERSION);
    return 1;
  }
  sparsegrad::CooMatrix<double> A;
  A.rows = 4, A.cols = 2;
  A.row.resize(4), A.col.resize(4), A.values.resize(4);
  A.row << 0, 1, 2, 3;
  A.col << 0, 0, 1, 1;
  A.values << 1, 1, 2, 2;
  Eigen::VectorXd b(4), w(2), x_exact(2), db_exact(4);
  b << 1, 3, 2, 6;
  w << 1, 1;
  x_exact << 2, 2;
  db_exact << 0.5, 0.5, 0.25, 0.25;

#ifdef CONSUMER_WITH_SUITESPARSE
  sparsegrad::SPQR<double> solver;
  const char* name = "SPQR";
#else
  sparsegrad::LsmrOptions<double> options;
  options.atol = options.btol = 1e-12;
  sparsegrad::Lsmr<double> solver(options);
  const char* name = "LSMR";
#endif
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);
  const auto g = sparsegrad::lstsq_backward(A, b, x, w, solver);
  const double x_error = (x - x_exact).norm(), db_error = (g.B - db_exact).norm();
  std::printf("sparsegrad %s with %s: |x - x_exact| = %.2e, |dL/db - exact| = %.2e\n",
              SPARSEGRAD_VERSION_STRING, name, x_error, db_error);
  return x_error <= 1e-9 && db_error <= 1e-9 ? 0 : 1;
}
