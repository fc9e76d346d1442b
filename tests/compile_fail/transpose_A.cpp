// Must not compile: A is an Eigen expression (a transpose), not a stored sparse matrix.
#include <sparsegrad/sparsegrad.hpp>

int main() {
  Eigen::SparseMatrix<double> A(2, 3);
  Eigen::VectorXd b = Eigen::VectorXd::Ones(3);
  Eigen::VectorXd x = sparsegrad::lstsq(A.transpose(), b);
  return int(x.size());
}
