// Solve a small sparse least-squares problem and differentiate the solution.
#include <Eigen/QR>
#include <iostream>
#include <sparsegrad/sparsegrad.hpp>

int main() {
  // A in 0-based COO, like torch.sparse_coo_tensor (any order, duplicates add up). An
  // Eigen::SparseMatrix (CSR or CSC) or an Eigen::Map of one is accepted the same way.
  sparsegrad::CooMatrix<double> A;
  A.rows = 5, A.cols = 3;
  A.row.resize(8), A.col.resize(8), A.values.resize(8);
  A.row << 0, 1, 2, 3, 4, 1, 2, 3;
  A.col << 0, 0, 0, 0, 1, 1, 1, 2;
  A.values << 1, 2, 1, 3, 1, 2, 1, 1;
  Eigen::VectorXd b(5);
  b << 1, 2, 3, 4, 5;

  // A solver object holds the options and keeps the diagnostics of its last solve.
  sparsegrad::Lsmr<double> solver;
  solver.options.atol = solver.options.btol = 1e-12;
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, solver);  // min ‖Ax − b‖ by LSMR
  std::cout << "x = " << x.transpose() << " (istop " << solver.last().istop[0] << ", "
            << solver.last().itn[0] << " iterations)\n";

  // Reverse mode for a loss L(x) with dL/dx = dx, here L = sum(x).
  const Eigen::VectorXd dx = Eigen::VectorXd::Ones(3);
  const auto g = sparsegrad::lstsq_backward(A, b, x, dx, solver);
  // g.A: a CooMatrix with A's row and col arrays, one dL/dA value per stored entry;
  // g.B: dL/db, shaped like b; g.damp: dL/dλ (0: this problem is undamped).
  std::cout << "dL/dA = " << g.A.values.transpose() << "\ndL/db = " << g.B.transpose() << "\n";

  // A direct solver: the backward reuses the factorization of the forward solve.
  sparsegrad::SparseQR<double> qr;
  const Eigen::VectorXd x_qr = sparsegrad::lstsq(A, b, qr);
  const auto g_qr = sparsegrad::lstsq_backward(A, b, x_qr, dx, qr);
  std::cout << "SparseQR: " << qr.factorizations()
            << " factorization, |dL/db - LSMR's| = " << (g_qr.B - g.B).norm() << "\n";

  // Any callable is a solver: solver(A, B) -> X, with B dense m x k and X dense n x k.
  auto dense_qr = [](const sparsegrad::CooMatrix<double>& M, const Eigen::MatrixXd& B) {
    const Eigen::MatrixXd D = sparsegrad::to_csr(M).toDense();
    return Eigen::MatrixXd(D.colPivHouseholderQr().solve(B));
  };
  std::cout << "dense QR: x = " << sparsegrad::lstsq(A, b, dense_qr).transpose() << "\n";
}
