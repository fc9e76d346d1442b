// A user-written solver functor with the solve_normal capability: a dense column-pivoting QR
// for small problems that keeps its factorization, so that lstsq_backward reuses it (one solve,
// no second factorization). Then the same with the shipped sparsegrad::SparseQR.
//
//   custom_solver [matrix.mtx]      (default: data/lsq/lp_afiro_T.mtx)
#include <Eigen/Dense>
#include <cstdio>
#include <sparsegrad/sparsegrad.hpp>
#include <stdexcept>
#include <string>

using Csr = Eigen::SparseMatrix<double, Eigen::RowMajor, int>;

/// X = A⁺B by dense QR, AP = QR; solve_normal(A, G) = (AᵀA)⁻¹G = P R⁻¹ R⁻ᵀ Pᵀ G from the same R.
/// The factorization is tied to A by value: it is recomputed whenever A's entries differ.
struct DenseQrSolver {
  Eigen::MatrixXd factored;  // the A that qr belongs to
  Eigen::ColPivHouseholderQR<Eigen::MatrixXd> qr;
  int factorizations = 0;

  const Eigen::ColPivHouseholderQR<Eigen::MatrixXd>& factor(const Csr& A) {
    const Eigen::MatrixXd D = A;
    if (D.rows() != factored.rows() || D.cols() != factored.cols() || D != factored) {
      qr.compute(D);
      factored = D;
      ++factorizations;
    }
    if (qr.rank() < D.cols())  // lstsq passes std::domain_error through unchanged
      throw std::domain_error("DenseQrSolver: A has rank " + std::to_string(qr.rank()) + " of " +
                              std::to_string(D.cols()));
    return qr;
  }

  Eigen::MatrixXd operator()(const Csr& A, const Eigen::MatrixXd& B) { return factor(A).solve(B); }

  Eigen::MatrixXd solve_normal(const Csr& A, const Eigen::MatrixXd& G) {
    const auto& f = factor(A);
    const Eigen::Index n = A.cols();
    const auto R = f.matrixR().topLeftCorner(n, n).triangularView<Eigen::Upper>();
    Eigen::MatrixXd Y = f.colsPermutation().transpose() * G;
    R.transpose().solveInPlace(Y);  // Rᵀ Z = Pᵀ G
    R.solveInPlace(Y);              // R W = Z
    return f.colsPermutation() * Y;
  }
};

int main(int argc, char** argv) {
  const std::string path =
      argc > 1 ? argv[1] : std::string(SPARSEGRAD_DATA_DIR) + "/lp_afiro_T.mtx";
  const Csr A = sparsegrad::to_csr(sparsegrad::read_matrix_market_file<double>(path));
  Eigen::VectorXd b(A.rows());
  for (Eigen::Index i = 0; i < b.size(); ++i) b[i] = std::cos(0.37 * double(i));
  const Eigen::VectorXd dx = Eigen::VectorXd::Ones(A.cols());  // dL/dx for L = sum(x)

  DenseQrSolver mine;
  const Eigen::VectorXd x = sparsegrad::lstsq(A, b, mine);
  const auto g = sparsegrad::lstsq_backward(A, b, x, dx, mine);  // uses mine.solve_normal
  std::printf("DenseQrSolver: |x| = %.12g, |dL/db| = %.12g, factorizations = %d\n", x.norm(),
              g.B.norm(), mine.factorizations);

  sparsegrad::SparseQR<double> qr;  // the shipped sparse QR does the same with a sparse R
  const Eigen::VectorXd x2 = sparsegrad::lstsq(A, b, qr);
  const auto g2 = sparsegrad::lstsq_backward(A, b, x2, dx, qr);
  std::printf("SparseQR:      |x| = %.12g, |dL/db| = %.12g, factorizations = %ld, nnz(R) = %ld\n",
              x2.norm(), g2.B.norm(), qr.factorizations(), long(qr.factor_nonzeros()));
  const double diff = (g.B - g2.B).norm() / g2.B.norm();
  std::printf("relative difference of dL/db: %.2e\n", diff);
  return mine.factorizations == 1 && qr.factorizations() == 1 && diff < 1e-10 ? 0 : 1;
}
