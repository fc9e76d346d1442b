// Solve a real sparse least-squares problem, differentiate a loss through the solve, and check
// a few gradient entries against central finite differences.
//
//   solve_and_differentiate [matrix.mtx [rhs.mtx]]
//
// Defaults to data/lsq/well1033.mtx with its right-hand side (Harwell-Boeing LSQ set).
#include <cstdio>
#include <iostream>
#include <sparsegrad/sparsegrad.hpp>
#include <string>

int main(int argc, char** argv) {
  const std::string data = SPARSEGRAD_DATA_DIR;
  const std::string matrix_path = argc > 1 ? argv[1] : data + "/well1033.mtx";
  const std::string rhs_path = argc > 2 ? argv[2] : data + "/well1033_rhs1.mtx";

  // A in COO form, exactly as read (like a torch.sparse_coo_tensor); b from its own file.
  const auto A = sparsegrad::read_matrix_market_file<double>(matrix_path);
  const Eigen::VectorXd b = sparsegrad::read_dense_matrix_market_file<double>(rhs_path).col(0);
  std::printf("A: %lld x %lld, %lld stored entries (%s)\n", (long long)A.rows, (long long)A.cols,
              (long long)A.nonZeros(), matrix_path.c_str());

  // Forward: LSMR with tight tolerances; diagnostics are kept in the solver object.
  sparsegrad::LsmrOptions<double> options;
  options.atol = options.btol = 1e-12;
  options.maxiter = 5000;
  sparsegrad::Lsmr<double> solver(options);
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);
  const auto& run = solver.last();
  std::printf("LSMR: istop %d (%s), %d iterations\n", run.istop[0],
              sparsegrad::lsmr_stop_reason(run.istop[0]), run.itn[0]);
  std::printf("      |r| = %.6e, |A^T r| = %.3e, |A| ~ %.3e, cond(A) ~ %.3e, |x| = %.6e\n",
              run.normr[0], run.normar[0], run.norma[0], run.conda[0], run.normx[0]);

  // Backward of the loss L(x) = sum_i w_i x_i with fixed weights w: dL/dx = w.
  Eigen::VectorXd w(x.size());
  for (Eigen::Index i = 0; i < w.size(); ++i) w[i] = 1.0 + 0.5 * std::sin(double(i));
  const auto g = sparsegrad::lstsq_backward(A, b, x, w, solver);
  std::printf("Gradients: |dL/dB| = %.6e, |dL/dA| (on %lld entries) = %.6e\n", g.B.norm(),
              (long long)g.A.values.size(), g.A.values.norm());

  // Finite-difference spot check: perturb a few entries of A and of b, re-solve, compare.
  auto loss = [&](const sparsegrad::CooMatrix<double>& Ap, const Eigen::VectorXd& bp) {
    return w.dot(sparsegrad::lstsq(Ap, bp, solver));
  };
  const double h = 1e-3;  // the loss is linear in b; in A its curvature error is O(h^2)
  double worst = 0;
  std::printf("Finite-difference check (central, h = %g):\n", h);
  for (Eigen::Index e : {Eigen::Index(0), A.nonZeros() / 2, A.nonZeros() - 1}) {
    auto Ap = A, Am = A;
    Ap.values[e] += h, Am.values[e] -= h;
    const double fd = (loss(Ap, b) - loss(Am, b)) / (2 * h);
    const double rel = std::abs(fd - g.A.values[e]) / std::max(std::abs(fd), 1e-12);
    worst = std::max(worst, rel);
    std::printf("  dL/dA(%d,%d): adjoint % .8e  fd % .8e  rel.diff %.1e\n", int(A.row[e]),
                int(A.col[e]), g.A.values[e], fd, rel);
  }
  for (Eigen::Index i : {Eigen::Index(0), b.size() / 3}) {
    Eigen::VectorXd bp = b, bm = b;
    bp[i] += h, bm[i] -= h;
    const double fd = (loss(A, bp) - loss(A, bm)) / (2 * h);
    const double rel = std::abs(fd - g.B[i]) / std::max(std::abs(fd), 1e-12);
    worst = std::max(worst, rel);
    std::printf("  dL/db(%d):   adjoint % .8e  fd % .8e  rel.diff %.1e\n", int(i), g.B[i], fd, rel);
  }
  std::printf("worst relative difference: %.1e %s\n", worst, worst < 1e-4 ? "(ok)" : "(LARGE)");
  return worst < 1e-4 ? 0 : 1;
}
