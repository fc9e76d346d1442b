// Must not compile: A is a dense matrix (checked by ctest through the compiler's message).
#include <sparsegrad/sparsegrad.hpp>

int main() {
  Eigen::MatrixXd A = Eigen::MatrixXd::Identity(3, 2);
  Eigen::VectorXd b = Eigen::VectorXd::Ones(3);
  Eigen::VectorXd x = sparsegrad::lstsq(A, b);
  return int(x.size());
}
